// What the client does when its worker goes away (model: vscode-languageclient's ErrorHandler.closed()):
// a policy object answers Restart (start a new worker on the next request) or DoNotRestart (stay failed until
// "Restart Worker"). The default is a crash budget: 4 crashes within 3 minutes stop automatic restarts.

export enum CloseAction { DoNotRestart = 1, Restart = 2 }

export interface CloseInfo {
  /** "killed by SIGKILL", "exit code 1", "the elevated worker closed its connection". */
  how: string;
  elevated: boolean;
}

export interface CloseHandlerResult {
  action: CloseAction;
  /** Shown to the user when the action is DoNotRestart. */
  message?: string;
}

export interface RestartPolicy {
  closed(info: CloseInfo): CloseHandlerResult;
  /** "Restart Worker": forget past crashes. */
  reset(): void;
}

export class CrashBudget implements RestartPolicy {
  private crashes: number[] = [];
  constructor(private readonly max = 4, private readonly windowMs = 3 * 60_000, private readonly now = () => Date.now()) {}

  closed(_info: CloseInfo): CloseHandlerResult {
    const t = this.now();
    this.crashes = [...this.crashes.filter((c) => t - c < this.windowMs), t];
    if (this.crashes.length < this.max) return { action: CloseAction.Restart };
    return {
      action: CloseAction.DoNotRestart,
      message: `The vdisk worker crashed ${this.max} times in ${Math.round(this.windowMs / 60000)} minutes and was not restarted. Run "Restart Worker" to try again; the log has the details.`,
    };
  }

  reset(): void { this.crashes = []; }
}
