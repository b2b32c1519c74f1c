/**
 * MediaPipe FaceMesh topology facts, read at module load from the installed `@mediapipe/face_mesh` package
 * (face_mesh.js exports the connection sets; its packed assets hold the canonical face mesh). Reading them from the
 * package instead of transcribing keeps one source of truth for the 468-point topology.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One undirected edge between two FaceMesh landmark indices. */
export type MeshEdge = readonly [number, number];

/** The connection sets exported by `@mediapipe/face_mesh` (face_mesh.js), FaceMesh landmark indices. */
export interface FaceMeshConnections {
  lips: readonly MeshEdge[];
  leftEye: readonly MeshEdge[];
  rightEye: readonly MeshEdge[];
  leftEyebrow: readonly MeshEdge[];
  rightEyebrow: readonly MeshEdge[];
  faceOval: readonly MeshEdge[];
  /** Full tesselation; consecutive edge triples (a,b),(b,c),(c,a) are the mesh's triangles. */
  tesselation: readonly MeshEdge[];
}

const require = createRequire(import.meta.url);
const PACKAGE = '@mediapipe/face_mesh';

type Connections = [number, number][];
interface FaceMeshModule {
  FACEMESH_LIPS: Connections;
  FACEMESH_LEFT_EYE: Connections;
  FACEMESH_RIGHT_EYE: Connections;
  FACEMESH_LEFT_EYEBROW: Connections;
  FACEMESH_RIGHT_EYEBROW: Connections;
  FACEMESH_FACE_OVAL: Connections;
  FACEMESH_TESSELATION: Connections;
}

function loadConnections(): FaceMeshConnections {
  const m = require(PACKAGE) as FaceMeshModule;
  const copy = (edges: Connections | undefined, name: string): MeshEdge[] => {
    if (!Array.isArray(edges) || edges.length === 0) throw new Error(`${PACKAGE} does not export ${name}`);
    return edges.map(([a, b]) => [a, b] as const);
  };
  return {
    lips: copy(m.FACEMESH_LIPS, 'FACEMESH_LIPS'),
    leftEye: copy(m.FACEMESH_LEFT_EYE, 'FACEMESH_LEFT_EYE'),
    rightEye: copy(m.FACEMESH_RIGHT_EYE, 'FACEMESH_RIGHT_EYE'),
    leftEyebrow: copy(m.FACEMESH_LEFT_EYEBROW, 'FACEMESH_LEFT_EYEBROW'),
    rightEyebrow: copy(m.FACEMESH_RIGHT_EYEBROW, 'FACEMESH_RIGHT_EYEBROW'),
    faceOval: copy(m.FACEMESH_FACE_OVAL, 'FACEMESH_FACE_OVAL'),
    tesselation: copy(m.FACEMESH_TESSELATION, 'FACEMESH_TESSELATION'),
  };
}

/** MediaPipe's FaceMesh connection sets (loaded once). */
export const FACEMESH: FaceMeshConnections = loadConnections();

/** Triangles of FACEMESH_TESSELATION (852 x 3 landmark indices) for warps over the full 468-point mesh. */
export function tesselationTriangles(): Uint16Array {
  const t = FACEMESH.tesselation;
  const out = new Uint16Array(t.length);
  for (let i = 0; i + 2 < t.length; i += 3) {
    out[i] = t[i]![0];
    out[i + 1] = t[i + 1]![0];
    out[i + 2] = t[i + 2]![0];
  }
  return out;
}

/** MediaPipe's canonical (metric, frontal) face: 468 vertices x (x, y, z) in cm, y up, plus its triangle list. */
export interface CanonicalFace {
  positions: Float32Array;
  triangles: Uint16Array;
}

let canonical: CanonicalFace | undefined;

/**
 * The canonical face mesh from `geometry_pipeline_metadata_landmarks.binarypb` inside the package's packed assets
 * (a Mesh3d protobuf: vertex_buffer = x,y,z,u,v per vertex; index_buffer = triangles). Used as a plausible frontal
 * layout (test fixtures, a fixed triangulation for warps), never as a measurement.
 */
export function canonicalFace(): CanonicalFace {
  if (canonical) return canonical;
  const dir = dirname(require.resolve(`${PACKAGE}/face_mesh.js`));
  const loader = readFileSync(join(dir, 'face_mesh_solution_packed_assets_loader.js'), 'utf8');
  const m = /geometry_pipeline_metadata_landmarks\.binarypb", "start": (\d+), "end": (\d+)/.exec(loader);
  if (!m) throw new Error(`${PACKAGE}: canonical face metadata not found in the packed assets loader`);
  const pack = readFileSync(join(dir, 'face_mesh_solution_packed_assets.data'));
  const buf = pack.subarray(Number(m[1]), Number(m[2]));
  canonical = parseCanonicalMesh(buf);
  return canonical;
}

/** Minimal protobuf walk: GeometryPipelineMetadata field 1 = Mesh3d {3: repeated float vertex, 4: repeated uint32}. */
function parseCanonicalMesh(buf: Uint8Array): CanonicalFace {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const varint = (): number => {
    let r = 0;
    let s = 1;
    for (;;) {
      const b = buf[p++];
      if (b === undefined) throw new Error('truncated protobuf');
      r += (b & 0x7f) * s;
      s *= 128;
      if ((b & 0x80) === 0) return r;
    }
  };
  const vertices: number[] = [];
  const indices: number[] = [];
  const readMesh = (end: number): void => {
    while (p < end) {
      const key = varint();
      const field = key >>> 3;
      const wire = key & 7;
      if (wire === 0) {
        const v = varint();
        if (field === 4) indices.push(v);
      } else if (wire === 5) {
        if (field === 3) vertices.push(view.getFloat32(p, true));
        p += 4;
      } else if (wire === 2) {
        const len = varint();
        const stop = p + len;
        // Packed repeated fields, in case a newer package packs them.
        if (field === 3) for (; p < stop; p += 4) vertices.push(view.getFloat32(p, true));
        else if (field === 4) while (p < stop) indices.push(varint());
        p = stop;
      } else if (wire === 1) p += 8;
      else throw new Error(`unexpected protobuf wire type ${wire}`);
    }
  };
  while (p < buf.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 2) {
      const len = varint();
      const stop = p + len;
      if (key >>> 3 === 1) readMesh(stop);
      p = stop;
    } else if (wire === 0) varint();
    else if (wire === 5) p += 4;
    else if (wire === 1) p += 8;
    else throw new Error(`unexpected protobuf wire type ${wire}`);
  }
  if (vertices.length !== 468 * 5) throw new Error(`canonical mesh has ${vertices.length / 5} vertices, expected 468`);
  const positions = new Float32Array(468 * 3);
  for (let i = 0; i < 468; i++) {
    positions[i * 3] = vertices[i * 5]!;
    positions[i * 3 + 1] = vertices[i * 5 + 1]!;
    positions[i * 3 + 2] = vertices[i * 5 + 2]!;
  }
  return { positions, triangles: Uint16Array.from(indices) };
}
