// Questions and outcomes shown to the user. Both fire an event first: notifications and modal dialogs are not
// observable through the VS Code API, and tests (and the log) need to see what the user was told or asked.
import * as vscode from 'vscode';

export const shownInfos = new vscode.EventEmitter<{ message: string }>();
export const askedQuestions = new vscode.EventEmitter<{ message: string; detail: string; confirm: string }>();

/** A success worth more than a status-bar flash ("Detached 2 disks"). Returns at once. */
export function inform(message: string, ...actions: string[]): Thenable<string | undefined> {
  shownInfos.fire({ message });
  return vscode.window.showInformationMessage(message, ...actions);
}

/** A modal question with one confirming button; true only when the user picked it. */
export async function confirm(message: string, detail: string, confirmLabel: string): Promise<boolean> {
  askedQuestions.fire({ message, detail, confirm: confirmLabel });
  return (await vscode.window.showWarningMessage(message, { modal: true, detail }, confirmLabel)) === confirmLabel;
}

/** Programmatic callers that already decided pass `{ confirmed: true }` among a command's arguments. */
export function preConfirmed(args: unknown[]): boolean {
  return args.some((a) => typeof a === 'object' && a !== null && (a as { confirmed?: unknown }).confirmed === true);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
