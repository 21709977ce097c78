/**
 * The manifest, build record and module-name contracts live in
 * @klp-split/core (contracts/); the splitter re-exports them for code that
 * imported them from here. No definitions here.
 */
export {
  MANIFEST_FILE,
  MANIFEST_VERSION,
  MAX_MANIFEST_PARTS,
  buildManifest,
  checkManifest,
  manifestText,
  parseManifest,
  readManifest,
  BUILD_RECORD,
  readBuildRecord,
  MODULE_NAME_LEN,
  MODULE_NAME_MAX,
  kbuildModuleName,
  perObjectModuleName,
  perObjectFileBase,
  objectNameProblem,
  patchNameProblem,
} from '@klp-split/core';
export type { ManifestCallback, ManifestFunc, ManifestPart, ManifestSourceMap, ManifestState, SplitManifest, BuildRecord, BuiltModule, NameProblem } from '@klp-split/core';
