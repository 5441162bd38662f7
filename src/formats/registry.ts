// The one registry of formats: a descriptor per row of the common table (src/common/formats.ts). Detection,
// inspection and the OS engines' choices derive from it; a row without a descriptor does not compile.
import type { ImageFormat } from '../common/formats';
import type { FormatDescriptor } from './descriptor';
import { vhdFormat } from './vhd/format';
import { vhdxFormat } from './vhdx/format';
import { isoFormat } from './iso/format';
import { udfFormat } from './udf/format';
import { qcow2Format } from './qcow2/format';
import { vmdkFormat } from './vmdk/format';
import { vdiFormat } from './vdi/format';
import { rawFormat } from './raw/format';

export const FORMAT_REGISTRY: { readonly [F in ImageFormat]: FormatDescriptor<F> } = {
  vhd: vhdFormat,
  vhdx: vhdxFormat,
  iso: isoFormat,
  udf: udfFormat,
  qcow2: qcow2Format,
  vmdk: vmdkFormat,
  vdi: vdiFormat,
  raw: rawFormat,
};

export function formatOf<F extends ImageFormat>(id: F): FormatDescriptor<F> {
  return FORMAT_REGISTRY[id];
}

/** Every descriptor in detection order. */
export const DETECTION_ORDER: readonly FormatDescriptor[] = Object.values(FORMAT_REGISTRY).sort((a, b) => a.detectOrder - b.detectOrder);
