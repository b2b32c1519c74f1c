/**
 * Checks a model file against its contract without the inference worker (CLI checks, tests, set-up): creates a CPU
 * session, compares its declared inputs/outputs with the contract, releases it. Throws a ContractError that lists
 * every mismatch, or an Error when the file is missing or not a loadable ONNX model.
 */
import { existsSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { CONTRACTS, checkContract, type DeclaredTensor, type ResolvedDims } from './contracts.ts';

export async function verifyModelFile(path: string, contractId: string): Promise<ResolvedDims> {
  const contract = CONTRACTS[contractId];
  if (!contract) throw new Error(`unknown contract '${contractId}' (known: ${Object.keys(CONTRACTS).join(', ')})`);
  if (!existsSync(path)) throw new Error(`model file not found: ${path}`);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  } catch (err) {
    throw new Error(`${path} is not a loadable ONNX model: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  try {
    return checkContract(
      contract,
      { inputs: session.inputMetadata as DeclaredTensor[], outputs: session.outputMetadata as DeclaredTensor[] },
      path,
    );
  } finally {
    await session.release();
  }
}
