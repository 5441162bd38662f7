// The format layer's public surface (worker, CLI and tests import from here).
export { inspectImage } from './inspect';
export { FormatError } from './errors';
export type { FormatErrorCode } from './errors';
export { createDifferencingDisk } from './create-diff';
export { detectFormat } from './detect';
export { PROBLEM_CODES, problem, hasProblem } from './problems';
export type { ProblemCode } from './problems';
export { checkWindowsIsoRules } from './iso/inspect';
export { DEFAULT_MAX_DEPTH } from './chain';
export { pulledIn, resolveLayerName, checkLayerFile, openLayerFile, mayUseLayer, describeRef, LayerRefused } from './layers';
export type { LayerRef, LayerCheck, LayerProblemCode } from './layers';
export { openDisk } from './open-disk';
export type { OpenDiskOptions } from './open-disk';
export type { BlockReader } from './block';
export { defaultLayerOpener } from './layer-files';
export type { LayerOpener, LayerRequest, LayerFile } from './layer-files';
