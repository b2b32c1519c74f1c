/**
 * The neural (IP_LAP-shaped) path of the lip-sync engine: ONNX contracts, the adapters behind the engine's
 * LandmarkGenerator / FaceRenderer interfaces, and the training-data preparation.
 */
import { join } from 'node:path';
import { InferenceHost, type InferenceHostOptions } from '../../inference/InferenceHost.ts';
import { LANDMARK_GENERATOR_CONTRACT, RENDERER_FRAME_CONTRACT, RENDERER_REFENC_CONTRACT } from './contracts.ts';
import { NeuralFaceRenderer, type NeuralFaceRendererOptions } from './NeuralFaceRenderer.ts';
import { NeuralLandmarkGenerator } from './NeuralLandmarkGenerator.ts';

export * from './contracts.ts';
export { verifyModelFile } from './loader.ts';
export { NeuralFaceRenderer, type NeuralFaceRendererOptions } from './NeuralFaceRenderer.ts';
export {
  meshToSubset,
  NeuralLandmarkGenerator,
  type NeuralLandmarkGeneratorOptions,
} from './NeuralLandmarkGenerator.ts';

export interface NeuralPath {
  host: InferenceHost;
  generator: NeuralLandmarkGenerator;
  /** One renderer per stream: each holds its own encoded references in the shared host. */
  createRenderer(opts?: Omit<NeuralFaceRendererOptions, 'host'>): NeuralFaceRenderer;
  close(): Promise<void>;
}

/**
 * Starts an inference host (provider from options or LIPSYNC_EP, CPU fallback) and loads the three models found in
 * `modelDir` (landmark_generator.onnx, renderer_refenc.onnx, renderer_frame.onnx), each checked against its contract.
 */
export async function createNeuralPath(modelDir: string, hostOptions: InferenceHostOptions = {}): Promise<NeuralPath> {
  const host = await InferenceHost.start(hostOptions);
  try {
    const generator = await NeuralLandmarkGenerator.load(host, join(modelDir, LANDMARK_GENERATOR_CONTRACT.file));
    await host.load('renderer-refenc', join(modelDir, RENDERER_REFENC_CONTRACT.file), RENDERER_REFENC_CONTRACT.id);
    await host.load('renderer-frame', join(modelDir, RENDERER_FRAME_CONTRACT.file), RENDERER_FRAME_CONTRACT.id);
    return {
      host,
      generator,
      createRenderer: (opts = {}) => new NeuralFaceRenderer({ host, ...opts }),
      close: async () => {
        generator.close();
        await host.close();
      },
    };
  } catch (err) {
    await host.close();
    throw err;
  }
}
