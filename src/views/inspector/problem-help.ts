// What each problem code (src/formats/problems.ts, docs/formats.md) means for the user, and what to do about it.
// test/unit/problem-help.test.ts fails when a code in src/formats/problems.ts has no explanation here.

export interface ProblemHelp { meaning: string; action: string }

export const PROBLEM_HELP: Record<string, ProblemHelp> = {
  'footer-missing': {
    meaning: 'The last 512 bytes of a VHD describe the disk. They are gone or damaged, usually because a copy or download stopped early; the spare copy at the start of the file was used to read it.',
    action: 'Copy the file again from its source. Windows reports the footer as missing and will not attach it; attach it read-only here only to recover data.',
  },
  'footer-checksum': {
    meaning: 'The VHD footer was changed after it was written (bit rot, a bad edit or a tool that did not update the checksum).',
    action: 'Get a good copy of the image. If you must read it, attach read-only and check the data.',
  },
  'header-checksum': {
    meaning: 'A header that says where the disk\'s data lives fails its checksum, so the layout cannot be trusted.',
    action: 'Restore the image from a backup or re-copy it. Do not attach it read-write.',
  },
  'bad-header': {
    meaning: 'A header has an unknown signature, version or an impossible value: the file is damaged or was written by a tool that does not follow the format.',
    action: 'Re-create or re-copy the image with the tool that made it (Hyper-V, qemu-img, VirtualBox).',
  },
  'truncated': {
    meaning: 'The file is shorter than its own tables say: part of it is missing, typically after an interrupted copy, a full disk or a partial download.',
    action: 'Copy the complete file again. The data past the cut is lost in this copy.',
  },
  'bat-out-of-range': {
    meaning: 'The table that maps the virtual disk to the file points past the end of the file or does not cover the whole disk, so some blocks cannot be read.',
    action: 'Re-copy the image; if it was always like this, convert it with qemu-img to recover what is readable.',
  },
  'region-table-invalid': {
    meaning: 'The VHDX region table, which locates the block table and the metadata, is damaged or incomplete.',
    action: 'Restore the VHDX from a backup; Windows will not attach it.',
  },
  'metadata-invalid': {
    meaning: 'The VHDX metadata (size, block size, sector sizes, parent locator) is missing or damaged.',
    action: 'Restore the VHDX from a backup; Windows will not attach it.',
  },
  'log-replay-required': {
    meaning: 'The VHDX was not closed cleanly (the machine crashed or the file was copied while in use): its log holds changes not yet applied.',
    action: 'Attach it read-write once on Windows (or open it with qemu-img) to replay the log; a read-only attach may show stale data.',
  },
  'parent-locator-missing': {
    meaning: 'This differencing disk only stores changes against a parent, but it records no location where that parent can be found.',
    action: 'Put the parent next to this file with its original name, or re-link the child to its parent with Hyper-V\'s "Reconnect" or Set-VHD -ParentPath.',
  },
  'parent-missing': {
    meaning: 'This differencing disk only stores changes; its parent is not where the child says it is (moved, renamed or on another machine).',
    action: 'Copy or move the parent back to where the child expects it (into the folder of the disk that names it is usually enough); this view updates by itself.',
  },
  'parent-unreadable': {
    meaning: 'A file exists where the parent should be, but it is not a VHD or VHDX that can be read.',
    action: 'Replace it with the real parent image.',
  },
  'parent-id-mismatch': {
    meaning: 'The parent found is not the one this child was made from: it was modified, replaced or re-created after the child was made. Reading through it would give corrupt data.',
    action: 'Find the original parent (a backup or the snapshot folder). Re-linking to a different parent is only safe if you know it has identical content.',
  },
  'chain-cycle': {
    meaning: 'Following the parents leads back to a disk already in the chain, so there is no base disk.',
    action: 'One of the disks points at the wrong parent; fix the links with the tool that made them.',
  },
  'chain-too-deep': {
    meaning: 'The chain of differencing disks is longer than the supported limit (64), which usually means a runaway snapshot chain.',
    action: 'Merge the differencing disks (Hyper-V "Edit Disk" > Merge, or qemu-img commit) to shorten the chain.',
  },
  'iso-size-not-multiple-of-2048': {
    meaning: 'Discs are made of 2048-byte sectors; this file is not a whole number of them, so it was cut or padded wrongly.',
    action: 'Windows refuses to mount it. Re-download or re-create the ISO; Linux can still attach it read-only.',
  },
  'iso-too-small': {
    meaning: 'The file is smaller than the smallest possible ISO 9660 image (34,816 bytes), so it cannot hold a file system.',
    action: 'Check that this is really a disc image; re-download or re-create it.',
  },
  'iso-no-volume-descriptor': {
    meaning: 'The file has no ISO 9660 or UDF volume descriptor, so it is not a disc image (or its start is damaged).',
    action: 'Check where the file came from; a raw disk image should be named .img rather than .iso.',
  },
  'content-does-not-match-extension': {
    meaning: 'The file\'s name promises a disk image format, but its content is something else (often a text file, a download error page or a file renamed by mistake). Windows refuses it as corrupted.',
    action: 'Check where the file came from and rename it to what it is (.img for a raw disk). Only if you know it is a raw disk, use "Attach as Raw Disk", which exposes its bytes as they are.',
  },
  'layer-missing': {
    meaning: 'The image keeps part of its data in another file (a qcow2 backing or data file, a VMDK extent or parent), and that file is not where the image says.',
    action: 'Put the named file back where the message says (names are relative to the image\'s folder), or convert the image to a standalone one where it was made.',
  },
  'layer-not-a-file': {
    meaning: 'The image names a device, FIFO, socket, folder or a file under /proc, /sys or /dev as one of its layers. Attaching it would expose that object through the disk, so vdisk refuses.',
    action: 'Do not attach images from untrusted sources that name such paths. If it is yours, point the layer at a regular image file (qemu-img rebase -u, or edit the VMDK descriptor).',
  },
  'layer-unreadable': {
    meaning: 'A file this image pulls in cannot be opened with your rights, or is not in the format the image declares for it.',
    action: 'Check the file\'s permissions, or that the named file is the right one (qemu-img info shows the declared backing format).',
  },
  'layer-unsupported': {
    meaning: 'The image names a layer vdisk will not follow: a network or json: location, a Windows path on Linux, a raw device mapping or a format vdisk does not read.',
    action: 'Make a standalone copy where the layer is reachable (qemu-img convert), or rebase it onto a local image file.',
  },
  'partition-table-invalid': {
    meaning: 'The MBR or GPT partition table contradicts itself or points past the end of the disk, so its volumes cannot be trusted.',
    action: 'Attach read-only and check the disk with a partition tool (sfdisk, gdisk, Disk Management) before writing to it.',
  },
};

/** Help for a code; an unknown code (a newer worker) still gets a sensible text. */
export function problemHelp(code: string): ProblemHelp {
  return PROBLEM_HELP[code]
    ?? { meaning: 'A problem this version of the extension has no explanation for.', action: 'See the message and the log for details.' };
}
