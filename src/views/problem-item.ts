import * as vscode from 'vscode';
import type { Problem } from '../common/image';

/** A named problem (footer-checksum, parent-missing, ...) as a tree row, the same in every view. */
export function problemItem(id: string, problem: Problem): vscode.TreeItem {
  const item = new vscode.TreeItem(problem.code, vscode.TreeItemCollapsibleState.None);
  item.id = id;
  item.description = problem.message;
  item.tooltip = problem.message;
  item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
  item.contextValue = 'vdisk.problem';
  return item;
}
