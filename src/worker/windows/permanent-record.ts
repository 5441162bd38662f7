// Which permanently attached images this extension attached (AttachedDisk.ours), kept across worker restarts
// in %LOCALAPPDATA%\vdisk\permanent.json. Windows itself only knows that a disk is attached, not by whom.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export class PermanentRecord {
  constructor(private readonly file = path.join(process.env.LOCALAPPDATA ?? os.tmpdir(), 'vdisk', 'permanent.json')) {}

  private read(): string[] {
    try {
      const v = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
    } catch { return []; }
  }

  private write(list: string[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.writeFileSync(this.file, JSON.stringify(list, null, 1));
  }

  has(image: string): boolean { return this.read().some((p) => p.toLowerCase() === image.toLowerCase()); }
  add(image: string): void { if (!this.has(image)) this.write([...this.read(), image]); }
  remove(image: string): void {
    const list = this.read();
    const rest = list.filter((p) => p.toLowerCase() !== image.toLowerCase());
    if (rest.length !== list.length) this.write(rest);
  }
}
