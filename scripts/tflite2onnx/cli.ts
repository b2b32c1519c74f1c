/**
 * `tsx scripts/tflite2onnx/cli.ts in.tflite out.onnx [graphName]`: converts one model and prints its contract.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { convertTflite } from './convert.ts';

const [input, output, graphName] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: tflite2onnx in.tflite out.onnx [graphName]');
  process.exit(2);
}
const r = convertTflite(readFileSync(input), graphName ?? basename(input, '.tflite'));
writeFileSync(output, r.onnx);
console.log(
  JSON.stringify({ output, bytes: r.onnx.byteLength, ops: r.tfliteOps, inputs: r.inputs, outputs: r.outputs }),
);
