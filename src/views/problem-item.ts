import * as vscode from 'vscode';
import { PARENT_LINK_CODES } from '../common/parent-link';
import type { Problem } from '../common/image';

/** A named problem (footer-checksum, parent-missing, ...) as a tree row, the same in every view. */
export function problemItem(id: string, problem: Problem): vscode.TreeItem {
  const item = new vscode.TreeItem(problem.code, vscode.TreeItemCollapsibleState.None);
  item.id = id;
  item.description = problem.message;
  item.tooltip = problem.message;
  item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('errorForeground'));
  // a parent link a new path can fix offers Locate Parent... (package.json menus)
  item.contextValue = PARENT_LINK_CODES.has(problem.code) ? 'vdisk.problem parentLink' : 'vdisk.problem';
  return item;
}
