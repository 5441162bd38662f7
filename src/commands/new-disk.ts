// New Virtual Disk...: a fixed or dynamic VHD/VHDX (palette, or an Explorer folder's context menu).
import * as path from 'path';
import * as vscode from 'vscode';
import { CreateImage, CreateImageParams, CreateImageResult, GetCapabilities } from '../common/protocol';
import { checkCreateSpec } from '../common/create-spec';
import { checkInitSpec, InitFileSystem, InitSpec } from '../common/init-spec';
import { formatSize, parseSize } from '../common/sizes';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { withWorkerProgress } from './progress';

type Pick<T> = vscode.QuickPickItem & { value: T };
const MiB = 2 ** 20;

async function pick<T>(title: string, items: Pick<T>[]): Promise<T> {
  const r = await vscode.window.showQuickPick(items, { title, ignoreFocusOut: true });
  if (!r) throw new vscode.CancellationError();
  return r.value;
}

/** `args`: an Explorer folder Uri (the menu), or a full CreateImageParams (tests, other commands). */
export async function newDisk(ctx: CommandContext, args: unknown[]): Promise<CreateImageResult> {
  if (!vscode.workspace.isTrusted) throw new UserError('Creating disk images is disabled in Restricted Mode: trust this workspace first.');
  const given = args[0] && typeof args[0] === 'object' && !(args[0] instanceof vscode.Uri) ? (args[0] as CreateImageParams) : undefined;
  const params = given ?? (await ask(ctx, args[0] instanceof vscode.Uri ? args[0] : undefined));
  const r = await withWorkerProgress(ctx, `Creating ${path.basename(params.path)}`, (progressToken, cancel) =>
    ctx.client.request(CreateImage, { ...params, progressToken }, cancel));
  ctx.log.info(`created ${r.type} ${r.format} ${r.path} (${r.size} bytes)`);
  await ctx.recent.add(r.path);
  if (!given) {
    void vscode.window.showInformationMessage(`Created ${path.basename(r.path)} (${r.type} ${r.format.toUpperCase()}, ${formatSize(r.size)}).`, 'Inspect')
      .then((p) => { if (p === 'Inspect') void vscode.commands.executeCommand('vdisk.inspect', vscode.Uri.file(r.path)); });
  }
  return r;
}

async function ask(ctx: CommandContext, folder: vscode.Uri | undefined): Promise<CreateImageParams> {
  const format = await pick('New Virtual Disk: format', [
    { label: 'VHDX', description: 'Hyper-V, Windows 8 and later; up to 64 TiB; 4K sectors', value: 'vhdx' as const },
    { label: 'VHD', description: 'Virtual PC and every Windows; up to 2040 GiB', value: 'vhd' as const },
  ]);
  const type = await pick('New Virtual Disk: type', [
    { label: 'Dynamically expanding', description: 'the file grows as data is written', value: 'dynamic' as const },
    { label: 'Fixed size', description: 'the whole size is allocated now', value: 'fixed' as const },
  ]);
  const spec = (size: number, extra: Partial<CreateImageParams> = {}) => ({ path: 'x', format, type, size, ...extra });
  const sizeText = await vscode.window.showInputBox({
    title: 'New Virtual Disk: size', prompt: 'Bytes, or a number with K, M, G, T (powers of 1024)', value: '64G', ignoreFocusOut: true,
    validateInput: (v) => { try { checkCreateSpec(spec(parseSize(v))); return undefined; } catch (e) { return (e as Error).message; } },
  });
  if (sizeText === undefined) throw new vscode.CancellationError();
  const size = parseSize(sizeText);
  let blockSize: number | undefined;
  if (!(format === 'vhd' && type === 'fixed')) {
    const choices = format === 'vhdx' ? [32, 1, 2, 4, 8, 16, 64, 128, 256] : [2, 0.5, 1, 4, 8, 16];
    blockSize = await pick('New Virtual Disk: block size', choices.map((m, i) => ({
      label: formatSize(m * MiB), description: i === 0 ? 'Windows\' default' : undefined, value: m * MiB,
    })));
  }
  let logicalSectorSize = 512, physicalSectorSize = 512;
  if (format === 'vhdx') {
    [logicalSectorSize, physicalSectorSize] = await pick('New Virtual Disk: sector sizes (logical / physical)', [
      { label: '512 / 4096', description: '512e: Windows\' default', value: [512, 4096] },
      { label: '512 / 512', description: 'the widest compatibility', value: [512, 512] },
      { label: '4096 / 4096', description: '4K native (qemu cannot read it)', value: [4096, 4096] },
    ]);
    checkCreateSpec(spec(size, { logicalSectorSize, physicalSectorSize }));
  }
  const init = await askInit(ctx, size, logicalSectorSize);
  const base = folder?.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const target = await vscode.window.showSaveDialog({
    title: 'New Virtual Disk: save as', saveLabel: 'Create',
    defaultUri: base ? vscode.Uri.file(path.join(base, `disk.${format}`)) : undefined,
    filters: format === 'vhd' ? { 'VHD images': ['vhd'] } : { 'VHDX images': ['vhdx'] },
  });
  if (!target) throw new vscode.CancellationError();
  return { path: target.fsPath, format, type, size, blockSize, logicalSectorSize, physicalSectorSize, ...init };
}

/** Initialise: blank, an empty GPT, or GPT + one partition with a file system this worker can make (only those). */
async function askInit(ctx: CommandContext, size: number, sectorSize: number): Promise<InitSpec> {
  const caps = await ctx.client.request(GetCapabilities);
  const fits = (f: InitFileSystem) => { try { checkInitSpec({ fileSystem: f }, size, sectorSize); return true; } catch { return false; } };
  const usable = (caps.initFileSystems ?? []).filter((f) => f.available && fits(f.fileSystem));
  const missing = (caps.initFileSystems ?? []).filter((f) => !f.available);
  const items: Pick<InitSpec>[] = [
    { label: 'Blank', description: 'no partition table', value: {} },
    { label: 'GPT', description: 'an empty GUID partition table', value: { init: 'gpt' } },
    ...usable.map((f) => ({ label: `GPT + ${FS_LABEL[f.fileSystem]}`, description: `one partition, formatted with ${f.tool}`, value: { init: 'gpt' as const, fileSystem: f.fileSystem } })),
  ];
  // only what works is offered; the title says what is missing and why
  const notHere = missing.length ? ` (not here: ${missing.map((f) => `${f.fileSystem}: ${f.why}`).join('; ')})` : '';
  const choice = await pick<InitSpec>(`New Virtual Disk: initialise${notHere}`, items);
  if (!choice.fileSystem) return choice;
  const fsName = choice.fileSystem;
  const label = await vscode.window.showInputBox({
    title: `New Virtual Disk: ${FS_LABEL[fsName]} label`, prompt: 'The volume label (may be empty)', value: fsName === 'fat32' ? 'NEW VOLUME' : 'New Volume', ignoreFocusOut: true,
    validateInput: (v) => { try { checkInitSpec({ fileSystem: fsName, label: v }, size, sectorSize); return undefined; } catch (e) { return (e as Error).message; } },
  });
  if (label === undefined) throw new vscode.CancellationError();
  return { ...choice, ...(label ? { label } : {}) };
}

const FS_LABEL: Record<InitFileSystem, string> = { ext4: 'ext4', ntfs: 'NTFS', fat32: 'FAT32', exfat: 'exFAT' };
