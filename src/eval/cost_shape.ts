/**
 * `--cost-shape CONFIG.json`: the decoder shape a simulated board is charged
 * for (a larger declared model, e.g. Llama-3.2-1B int4, while the tokens come
 * from the small real model), read from a Hugging Face style config with
 * `parseDecoderShape`, and the description every report carries.
 */
import { type DecoderShape, describeError, InputError, parseDecoderShape } from "../core/mod.ts";
import { type CostShapeInfo, describeCostShape } from "./report.ts";

/** A cost shape and how the report names it. */
export interface CostShape {
  shape: DecoderShape;
  info: CostShapeInfo;
}

/** The base name of a path without its extension (`llama-3.2-1b-int4`). */
function stem(path: string): string {
  const base = path.replace(/\/+$/, "").split("/").at(-1) ?? path;
  return base.replace(/\.json$/i, "") || base;
}

/**
 * Reads a declared cost shape. Its name is the config's `_name` string when
 * present (JSON has no comments: `_name` and `_comment` are ignored by the
 * shape parser), else the file's base name.
 * @throws InputError naming the file and the problem (missing, not JSON, not a decoder config)
 */
export async function readCostShape(path: string): Promise<CostShape> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "does not exist"
      : error instanceof Deno.errors.IsADirectory
      ? "is a folder, not a config file"
      : describeError(error);
    throw new InputError(`read cost shape: ${path} ${why}`, { cause: error, details: { field: "cost-shape", path } });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`read cost shape: ${path} is not valid JSON (${describeError(error)})`, {
      cause: error,
      details: { field: "cost-shape", path },
    });
  }
  let shape: DecoderShape;
  try {
    shape = parseDecoderShape(json, path);
  } catch (error) {
    throw new InputError(`read cost shape: ${describeError(error)}`, {
      cause: error,
      details: { field: "cost-shape", path },
    });
  }
  const declared = (json as Record<string, unknown>)._name;
  const name = typeof declared === "string" && declared.trim() !== "" ? declared.trim() : stem(path);
  return { shape, info: describeCostShape(shape, { source: "file", name, path }) };
}

/** The real model's own shape as the cost shape (the default). */
export function modelCostShape(shape: DecoderShape, modelName: string): CostShape {
  return { shape, info: describeCostShape(shape, { source: "model", name: modelName }) };
}
