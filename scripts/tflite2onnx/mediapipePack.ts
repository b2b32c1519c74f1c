/**
 * The TFLite files inside @mediapipe/face_mesh's Emscripten asset pack: byte ranges are read from the loader script
 * that ships beside it, so a different package version still resolves (the manifest's sha256 says if it changed).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface PackedFile {
  /** Path inside the pack, e.g. /third_party/mediapipe/modules/face_landmark/face_landmark.tflite */
  path: string;
  start: number;
  end: number;
  data: Uint8Array;
}

export interface FaceMeshPack {
  version: string;
  /** Finds a file by the end of its path (e.g. `face_landmark/face_landmark.tflite`). */
  file(suffix: string): PackedFile;
}

export function openFaceMeshPack(root: string): FaceMeshPack {
  const require = createRequire(join(root, 'package.json'));
  const pkgJson = require.resolve('@mediapipe/face_mesh/package.json');
  const dir = dirname(pkgJson);
  const version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  const pack = readFileSync(join(dir, 'face_mesh_solution_packed_assets.data'));
  const loader = readFileSync(join(dir, 'face_mesh_solution_packed_assets_loader.js'), 'utf8');
  const ranges: { path: string; start: number; end: number }[] = [];
  for (const m of loader.matchAll(/"filename":\s*"([^"]+)",\s*"start":\s*(\d+),\s*"end":\s*(\d+)/g)) {
    ranges.push({ path: m[1] ?? '', start: Number(m[2]), end: Number(m[3]) });
  }
  return {
    version,
    file(suffix: string): PackedFile {
      const r = ranges.find((x) => x.path.endsWith(suffix));
      if (!r) throw new Error(`${suffix} not found in @mediapipe/face_mesh ${version}`);
      return { ...r, data: new Uint8Array(pack.buffer, pack.byteOffset + r.start, r.end - r.start) };
    },
  };
}
