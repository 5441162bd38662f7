// GetVirtualDiskInformation's answers the backend shows: SIZE, IDENTIFIER, PROVIDER_SUBTYPE, PARENT_LOCATION and
// PHYSICAL_DISK, each asked separately; a query Windows refuses (an ISO, say) gives null for its fields.
import type { Handle } from './api';
import * as C from './constants';
import { guidAt } from './deps';
import { multiSz } from './api';
import type { VirtDisk } from './virtdisk';

export interface VirtualDiskInformation {
  virtualSize: number | null;
  physicalSize: number | null;
  blockSize: number | null;
  sectorSize: number | null;
  identifier: string | null;
  providerSubtype: 'fixed' | 'dynamic' | 'differencing' | null;
  parentResolved: boolean | null;
  parentLocations: string[];
  logicalSectorSize: number | null;
  physicalSectorSize: number | null;
  isRemote: boolean | null;
}

/** Size, identifier, parent location, provider subtype and physical-disk facts; missing pieces are null. */
export function diskInformation(vd: VirtDisk, h: Handle, path: string): VirtualDiskInformation {
  const V = C.GET_VIRTUAL_DISK_INFO_VERSION;
  const size = vd.query(h, V.SIZE, path);
  const id = vd.query(h, V.IDENTIFIER, path);
  const sub = vd.query(h, V.PROVIDER_SUBTYPE, path);
  const parent = vd.query(h, V.PARENT_LOCATION, path);
  const phys = vd.query(h, V.PHYSICAL_DISK, path);
  return {
    virtualSize: size ? Number(size.readBigUInt64LE(0)) : null,
    physicalSize: size ? Number(size.readBigUInt64LE(8)) : null,
    blockSize: size ? size.readUInt32LE(16) : null,
    sectorSize: size ? size.readUInt32LE(20) : null,
    identifier: id && id.length >= 16 ? guidAt(id, 0) : null,
    providerSubtype: sub ? ({ 2: 'fixed', 3: 'dynamic', 4: 'differencing' } as Record<number, VirtualDiskInformation['providerSubtype']>)[sub.readUInt32LE(0)] ?? null : null,
    parentResolved: parent ? parent.readInt32LE(0) !== 0 : null,
    parentLocations: parent ? multiSz(parent.subarray(4)) : [],
    logicalSectorSize: phys ? phys.readUInt32LE(0) : null,
    physicalSectorSize: phys ? phys.readUInt32LE(4) : null,
    isRemote: phys ? phys.readInt32LE(8) !== 0 : null,
  };
}

