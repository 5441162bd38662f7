// The block graph qemu-storage-daemon gets for an image: one node per layer of the chain the format layer resolved,
// every file opened by us (src/formats/layers.ts: checked, regular, the inode that was checked) and handed to the
// daemon as an inherited fd (`/dev/fd/N`), explicit `backing` (or `null`) and `data-file` references, and VMDK
// descriptors rewritten into the scratch folder so their extents name those fds. qemu never resolves a name itself.
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../../common/protocol';
import type { ChainLink, ImageFormat, ImageInfo } from '../../../common/image';
import { openLayerFile, LayerRefused } from '../../../formats/layers';
import { renameExtents } from '../../../formats/vmdk/inspect';
import { WorkerError } from '../../errors';

const DRIVERS: Partial<Record<ImageFormat, string>> = { vhd: 'vpc', vhdx: 'vhdx', qcow2: 'qcow2', vmdk: 'vmdk', vdi: 'vdi', raw: 'raw' };
/** Drivers with a backing child: every other driver rejects the `backing` option. */
const HAS_BACKING = new Set(['qcow2', 'vmdk']);
/** The child's stdio slot of the first layer fd (0-2 are stdin, stdout, stderr). */
const FIRST_FD = 3;

export interface QemuGraph {
  /** `--blockdev` values in order (children before the nodes that name them); the top node is `disk0`. */
  blockdevs: Record<string, unknown>[];
  /** fds to hand the daemon, slot FIRST_FD + i. */
  fds: number[];
  /** Closes our copies of the fds (once the daemon has its own). */
  close(): void;
}

const isFormatLayer = (l: ChainLink, i: number) => i === 0 || l.role === 'parent' || l.role === 'backing' || l.role === undefined;

/** Builds the graph; throws WorkerError (nothing left open) when a layer cannot be handed over. */
export function qemuGraph(image: ImageInfo, readOnly: boolean, scratch: string): QemuGraph {
  const fds: number[] = [];
  const close = () => { for (const fd of fds.splice(0)) { try { fs.closeSync(fd); } catch { /* closed */ } } };
  try {
    const chain = image.chain.length ? image.chain : [{ path: image.path, format: image.format, subtype: image.subtype, id: image.id }];
    const formatLayers = chain.map((l, i) => ({ l, i })).filter(({ l, i }) => isFormatLayer(l, i));
    for (const { l, i } of formatLayers) {
      if ((l.format === 'vhd' || l.format === 'vhdx') && l.subtype === 'differencing' && i > 0) {
        throw new WorkerError(ErrorCode.NotSupported, `${l.path} is a differencing ${l.format.toUpperCase()} used as a backing file: qemu would read it without its parent`,
          { reason: 'differencing-backing', path: l.path });
      }
      if (!DRIVERS[l.format]) throw new WorkerError(ErrorCode.NotSupported, `${l.path}: qemu cannot read ${l.format} layers`, { reason: 'layer-format', path: l.path });
    }
    const fdName = (p: string, write: boolean): string => {
      try {
        fds.push(openLayerFile(p, write).fd);
      } catch (e) {
        if (e instanceof LayerRefused) throw new WorkerError(ErrorCode.ImageProblem, `Cannot attach ${path.basename(image.path)}: ${e.message}`, { reason: e.code, path: p });
        throw e;
      }
      return `/dev/fd/${FIRST_FD + fds.length - 1}`;
    };
    const nodes: Record<string, unknown>[] = [];
    const fileNode = (name: string, filename: string, ro: boolean, top: boolean) =>
      nodes.push({ driver: 'file', 'node-name': name, filename, 'read-only': ro, aio: 'threads', ...(top ? { locking: 'on' } : {}) });
    // bottom-up, so every node exists before a node above names it
    let below: string | null = null;
    for (let k = formatLayers.length - 1; k >= 0; k--) {
      const { l, i } = formatLayers[k];
      const top = k === 0;
      const ro = readOnly || !top;
      const driver = DRIVERS[l.format]!;
      const leaves = chain.map((c, j) => ({ c, j })).filter(({ c }) => c.of === i && (c.role === 'extent' || c.role === 'data-file'));
      const extents = leaves.filter(({ c }) => c.role === 'extent');
      let file: string;
      if (l.format === 'vmdk' && extents.length) {
        // the descriptor read through our own fd, its extent names replaced by fds we opened
        const { fd } = openLayerFile(l.path, false);
        let text: string;
        try { text = fs.readFileSync(fd, 'utf8'); } finally { fs.closeSync(fd); }
        const names = new Map<number, string>();
        for (const { c } of extents) names.set(c.extent!.index, fdName(c.path, !ro));
        const copy = path.join(scratch, `descriptor-${i}.vmdk`);
        fs.writeFileSync(copy, renameExtents(text, (x) => names.get(x) ?? null), { mode: 0o600 });
        file = `file${i}`;
        fileNode(file, copy, ro, top);
      } else {
        file = `file${i}`;
        fileNode(file, fdName(l.path, !ro), ro, top);
      }
      const dataFile = leaves.find(({ c }) => c.role === 'data-file');
      let dataNode: string | undefined;
      if (dataFile) {
        dataNode = `data${dataFile.j}`;
        fileNode(dataNode, fdName(dataFile.c.path, !ro), ro, false);
      }
      const name = top ? 'disk0' : `layer${i}`;
      nodes.push({
        driver, 'node-name': name, file, 'read-only': ro,
        ...(HAS_BACKING.has(driver) ? { backing: below } : {}),
        ...(dataNode ? { 'data-file': dataNode } : {}),
      });
      below = name;
    }
    return { blockdevs: nodes, fds, close };
  } catch (e) {
    close();
    throw e;
  }
}
