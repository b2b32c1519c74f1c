/**
 * The ONNX contracts of the neural (IP_LAP-shaped) path: exact input/output names, shapes, dtypes and value ranges.
 * `training/export.py` emits exactly these; {@link checkContract} verifies a loaded model against one.
 * docs/onnx-contracts.md is the prose version of this file.
 *
 * Shapes: a number is a fixed size, a string a dynamic dimension (`B` batch, `N` references). Every tensor is
 * float32, row-major (NCHW for images).
 *
 * Point order (landmarks): the project's 131-point subset (`face/geometry/subset131.ts`): pose = subset positions
 * 0..73, lips = 74..113, jaw = 114..130, each part's MediaPipe indices ascending. Coordinates are normalised to the
 * face crop: (x - box.x) / box.size, (y - box.y) / box.size (`frameToCrop`), nominally 0..1.
 */

/** A dimension: fixed size or the name of a dynamic dimension. */
export type Dim = number | string;

export interface TensorSpec {
  name: string;
  /** Shape with dynamic dimensions named. */
  shape: readonly Dim[];
  dtype: 'float32';
  /** Nominal value range [min, max] (documentation and input sanity checks, not enforced on outputs). */
  range: readonly [number, number];
  /** One line on what the tensor holds. */
  doc: string;
}

export interface ModelContract {
  /** Contract id, also written into models/manifest.json entries (`contract`). */
  id: string;
  /** File name the exporter writes. */
  file: string;
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
}

/** T: frames per landmark window. */
export const WINDOW_FRAMES = 5;
/** Nl: reference landmark sets. */
export const REFERENCE_LANDMARK_SETS = 15;
export const POSE_POINTS = 74;
export const SUBSET_POINTS = 131;
export const LIP_POINTS = 40;
export const JAW_POINTS = 17;
export const MEL_BINS = 80;
export const MEL_CHUNK_FRAMES = 16;
/** Renderer crop side. */
export const FACE_SIZE = 128;
/** 2k+1 target sketches, k = 2. */
export const TARGET_SKETCHES = 5;
/** Channels per sketch: 3 identical channels, as in the public IP_LAP code (so its checkpoints convert). */
export const SKETCH_CHANNELS = 3;

const MEL_RANGE = [-4, 4] as const;
const UNIT = [0, 1] as const;

const melWindow: TensorSpec = {
  name: 'mel',
  shape: ['B', WINDOW_FRAMES, 1, MEL_BINS, MEL_CHUNK_FRAMES],
  dtype: 'float32',
  range: MEL_RANGE,
  doc: 'T log-mel chunks (80 bins x 16 frames, row-major by bin), Wav2Lip-normalised as audio/mel.ts writes them',
};

export const LANDMARK_GENERATOR_CONTRACT: ModelContract = {
  id: 'lipsync.landmark-generator.v1',
  file: 'landmark_generator.onnx',
  inputs: [
    melWindow,
    {
      name: 'pose',
      shape: ['B', WINDOW_FRAMES, 2, POSE_POINTS],
      dtype: 'float32',
      range: UNIT,
      doc: 'pose points (subset 0..73) of the T window frames; [b, t, 0, i] = x, [b, t, 1, i] = y, crop-normalised',
    },
    {
      name: 'ref_landmarks',
      shape: ['B', REFERENCE_LANDMARK_SETS, 2, SUBSET_POINTS],
      dtype: 'float32',
      range: UNIT,
      doc: 'Nl reference sets of all 131 subset points of the same speaker, crop-normalised',
    },
  ],
  outputs: [
    {
      name: 'lip',
      shape: ['B', WINDOW_FRAMES, 2, LIP_POINTS],
      dtype: 'float32',
      range: UNIT,
      doc: 'lip points (subset 74..113 order), crop-normalised, not clamped',
    },
    {
      name: 'jaw',
      shape: ['B', WINDOW_FRAMES, 2, JAW_POINTS],
      dtype: 'float32',
      range: UNIT,
      doc: 'jaw points (subset 114..130 order), crop-normalised, not clamped',
    },
  ],
};

const maskedFace: TensorSpec = {
  name: 'masked_face',
  shape: ['B', 3, FACE_SIZE, FACE_SIZE],
  dtype: 'float32',
  range: UNIT,
  doc: 'the current face crop, RGB 0..1, rows 64..127 (lower half) set to 0 by the caller',
};
const targetSketches: TensorSpec = {
  name: 'target_sketches',
  shape: ['B', TARGET_SKETCHES * SKETCH_CHANNELS, FACE_SIZE, FACE_SIZE],
  dtype: 'float32',
  range: UNIT,
  doc: 'sketches of frames t-2..t+2, 3 identical channels each (channel 3j..3j+2 = sketch j), lines 1, background 0',
};
const refImages: TensorSpec = {
  name: 'ref_images',
  shape: ['B', 'N', 3, FACE_SIZE, FACE_SIZE],
  dtype: 'float32',
  range: UNIT,
  doc: 'N reference face crops of the same speaker, RGB 0..1, unmasked',
};
const refSketches: TensorSpec = {
  name: 'ref_sketches',
  shape: ['B', 'N', SKETCH_CHANNELS, FACE_SIZE, FACE_SIZE],
  dtype: 'float32',
  range: UNIT,
  doc: 'the sketches of the N references (3 identical channels)',
};
const melFrame: TensorSpec = {
  name: 'mel',
  shape: ['B', 1, MEL_BINS, MEL_CHUNK_FRAMES],
  dtype: 'float32',
  range: MEL_RANGE,
  doc: 'the mel chunk of frame t (same convention as the generator)',
};
const face: TensorSpec = {
  name: 'face',
  shape: ['B', 3, FACE_SIZE, FACE_SIZE],
  dtype: 'float32',
  range: UNIT,
  doc: 'the rendered face crop, RGB 0..1 (sigmoid)',
};

/** Monolithic renderer (the published network's interface). */
export const RENDERER_CONTRACT: ModelContract = {
  id: 'lipsync.renderer.v1',
  file: 'renderer.onnx',
  inputs: [maskedFace, targetSketches, refImages, refSketches, melFrame],
  outputs: [face],
};

/**
 * Reference encoder: what the renderer computes from the references alone, once per reference set.
 * `ref_feat1`/`ref_feat2` widths are the model's (32/256 at full size); the checker reads them from the model.
 */
export const RENDERER_REFENC_CONTRACT: ModelContract = {
  id: 'lipsync.renderer-refenc.v1',
  file: 'renderer_refenc.onnx',
  inputs: [refImages, refSketches],
  outputs: [
    {
      name: 'ref_feat1',
      shape: ['B', 'N', 'C1', FACE_SIZE, FACE_SIZE],
      dtype: 'float32',
      range: [0, Infinity],
      doc: 'first-scale reference features (after ReLU)',
    },
    {
      name: 'ref_feat2',
      shape: ['B', 'N', 'C2', FACE_SIZE / 2, FACE_SIZE / 2],
      dtype: 'float32',
      range: [0, Infinity],
      doc: 'second-scale reference features (after ReLU)',
    },
  ],
};

/** Per-frame renderer: the monolithic renderer with the reference encodings as inputs. */
export const RENDERER_FRAME_CONTRACT: ModelContract = {
  id: 'lipsync.renderer-frame.v1',
  file: 'renderer_frame.onnx',
  inputs: [
    maskedFace,
    targetSketches,
    refImages,
    { ...RENDERER_REFENC_CONTRACT.outputs[0]!, doc: 'ref_feat1 from the reference encoder' },
    { ...RENDERER_REFENC_CONTRACT.outputs[1]!, doc: 'ref_feat2 from the reference encoder' },
    melFrame,
  ],
  outputs: [face],
};

export const CONTRACTS: Readonly<Record<string, ModelContract>> = {
  [LANDMARK_GENERATOR_CONTRACT.id]: LANDMARK_GENERATOR_CONTRACT,
  [RENDERER_CONTRACT.id]: RENDERER_CONTRACT,
  [RENDERER_REFENC_CONTRACT.id]: RENDERER_REFENC_CONTRACT,
  [RENDERER_FRAME_CONTRACT.id]: RENDERER_FRAME_CONTRACT,
};

/** What a loaded model declares about one input or output (onnxruntime's `inputMetadata` / `outputMetadata`). */
export interface DeclaredTensor {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

/** Thrown when a model file does not match its contract; the message lists every difference. */
export class ContractError extends Error {
  override name = 'ContractError';
  constructor(
    readonly contractId: string,
    readonly model: string,
    readonly problems: readonly string[],
  ) {
    super(`${model} does not follow ${contractId}:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Dimensions resolved while checking (e.g. C1 = 32): the sizes a caller must allocate. */
export type ResolvedDims = Record<string, number>;

const isLetterName = (d: Dim): d is string => typeof d === 'string';

/**
 * Compares a model's declared inputs and outputs with a contract. Returns the named dimensions that the model fixes
 * (e.g. `{ C1: 32, C2: 256 }`); throws a {@link ContractError} listing every mismatch.
 *
 * Rules: names must match exactly (order free, nothing missing, no extra inputs); dtype float32; same rank; a fixed
 * contract size must be that number in an input; a dynamic contract dimension (`B`, `N`) must be dynamic in the
 * model (a model that fixed B = 1 cannot batch). Outputs: a fixed size that differs is an error, but a symbolic size
 * where the contract has a number is accepted, because ONNX shape inference cannot always resolve sizes after a
 * reshape; callers verify output sizes on the first run ({@link checkOutputDims}).
 */
export function checkContract(
  contract: ModelContract,
  declared: { inputs: readonly DeclaredTensor[]; outputs: readonly DeclaredTensor[] },
  model = 'model',
): ResolvedDims {
  const problems: string[] = [];
  const resolved: ResolvedDims = {};
  const side = (which: 'input' | 'output', specs: readonly TensorSpec[], got: readonly DeclaredTensor[]): void => {
    const byName = new Map(got.map((g) => [g.name, g]));
    for (const spec of specs) {
      const g = byName.get(spec.name);
      if (!g) {
        problems.push(
          `missing ${which} '${spec.name}' [${spec.shape.join(', ')}] (model has ${got.map((x) => `'${x.name}'`).join(', ') || 'none'})`,
        );
        continue;
      }
      byName.delete(spec.name);
      if (!g.isTensor) {
        problems.push(`${which} '${spec.name}' is not a tensor`);
        continue;
      }
      if (g.type !== undefined && g.type !== spec.dtype) {
        problems.push(`${which} '${spec.name}' is ${g.type}, contract says ${spec.dtype}`);
      }
      const shape = g.shape ?? [];
      if (shape.length !== spec.shape.length) {
        problems.push(
          `${which} '${spec.name}' has rank ${shape.length} [${shape.join(', ')}], contract says [${spec.shape.join(', ')}]`,
        );
        continue;
      }
      spec.shape.forEach((want, i) => {
        const have = shape[i]!;
        const haveFixed = typeof have === 'number' && have > 0;
        if (typeof want === 'number') {
          if (haveFixed && have !== want) {
            problems.push(`${which} '${spec.name}' dim ${i} is ${have}, contract says ${want}`);
          } else if (!haveFixed && which === 'input') {
            problems.push(`${which} '${spec.name}' dim ${i} is dynamic ('${have}'), contract fixes it to ${want}`);
          }
        } else if (want === 'B' || want === 'N') {
          if (haveFixed) {
            problems.push(`${which} '${spec.name}' dim ${i} is fixed to ${have}, contract needs dynamic '${want}'`);
          }
        } else if (isLetterName(want) && haveFixed) {
          const prev = resolved[want];
          if (prev !== undefined && prev !== have) {
            problems.push(`${which} '${spec.name}' dim ${i} (${want}) is ${have} but ${want} = ${prev} elsewhere`);
          }
          resolved[want] = have;
        }
      });
    }
    if (which === 'input') {
      for (const extra of byName.keys()) problems.push(`unexpected input '${extra}' (the contract has no such input)`);
    }
  };
  side('input', contract.inputs, declared.inputs);
  side('output', contract.outputs, declared.outputs);
  if (problems.length) throw new ContractError(contract.id, model, problems);
  return resolved;
}

/** Checks the dims of an actual output against the contract with B, N and resolved names bound. */
export function checkOutputDims(
  contract: ModelContract,
  name: string,
  dims: readonly number[],
  bound: ResolvedDims,
  model = 'model',
): void {
  const spec = contract.outputs.find((o) => o.name === name);
  if (!spec) throw new ContractError(contract.id, model, [`no output '${name}' in the contract`]);
  const want = spec.shape.map((d) => (typeof d === 'number' ? d : bound[d]));
  const bad = dims.length !== want.length || want.some((w, i) => w !== undefined && w !== dims[i]);
  if (bad) {
    throw new ContractError(contract.id, model, [
      `output '${name}' came out [${dims.join(', ')}], contract says [${spec.shape.join(', ')}] with ${JSON.stringify(bound)}`,
    ]);
  }
}

/** Number of elements of a shape once every named dimension is bound. */
export function elementCount(shape: readonly Dim[], bound: ResolvedDims): number {
  let n = 1;
  for (const d of shape) {
    const v = typeof d === 'number' ? d : bound[d];
    if (v === undefined) throw new RangeError(`dimension '${String(d)}' is not bound (${JSON.stringify(bound)})`);
    n *= v;
  }
  return n;
}

/** The concrete shape with named dimensions bound. */
export function concreteShape(shape: readonly Dim[], bound: ResolvedDims): number[] {
  return shape.map((d) => {
    const v = typeof d === 'number' ? d : bound[d];
    if (v === undefined) throw new RangeError(`dimension '${String(d)}' is not bound (${JSON.stringify(bound)})`);
    return v;
  });
}
