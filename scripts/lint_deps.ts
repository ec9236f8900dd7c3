/**
 * Fails when an import crosses a forbidden edge of DESIGN.md section 1:
 * folders import each other only through `mod.ts`, along allowed edges; pure
 * folders touch no clock, no randomness and no Deno API; onnxruntime-node is
 * imported by one file of src/runtime.
 *
 * Usage: deno run --allow-read scripts/lint_deps.ts [ROOT]
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  hal: ["core"],
  sim: ["core", "hal"],
  physics: ["core"],
  pgsam: ["core", "physics"],
  runtime: ["core", "physics"],
  verify: ["core"],
  update: ["core"],
  service: ["core", "hal", "sim", "physics", "pgsam", "runtime", "verify", "update"],
  eval: ["core", "hal", "sim", "physics", "pgsam", "runtime", "verify", "service"],
};
const PURE = new Set(["physics", "pgsam", "verify"]);
const IMPURE_PATTERNS: [RegExp, string][] = [
  [/\bDeno\./, "uses the Deno API"],
  [/\bMath\.random\b/, "uses Math.random (take a seeded Rng)"],
  [/\bDate\.now\b|\bnew Date\(\)/, "reads the wall clock (take a Clock or a time argument)"],
  [/\bperformance\.now\b/, "reads the clock (take durations as arguments)"],
];
const ORT_FILE_LIMIT = 1;

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile && path.endsWith(".ts")) yield path;
  }
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

const root = Deno.args[0] ?? ".";
const problems: string[] = [];
const ortFiles: string[] = [];
const importRe = /(?:import|export)\s[^"';]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

for await (const file of walk(`${root}/src`)) {
  const rel = file.slice(root.length + 1);
  const folder = rel.split("/")[1];
  const allowed = ALLOWED[folder];
  if (!allowed) {
    problems.push(`${rel}: folder src/${folder} is not in the layout of DESIGN.md section 1`);
    continue;
  }
  const source = stripComments(await Deno.readTextFile(file));
  for (const m of source.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    if (spec === "onnxruntime-node" || spec.startsWith("npm:onnxruntime-node")) ortFiles.push(rel);
    if (!spec.startsWith(".")) continue;
    const target = new URL(spec, `file:///${rel}`).pathname.slice(1);
    const parts = target.split("/");
    if (parts[0] !== "src") {
      problems.push(`${rel}: imports ${spec}, outside src/`);
      continue;
    }
    const targetFolder = parts[1];
    if (targetFolder === folder) continue;
    if (!allowed.includes(targetFolder)) {
      problems.push(`${rel}: src/${folder} may not import src/${targetFolder} (${spec})`);
    } else if (parts.length !== 3 || parts[2] !== "mod.ts") {
      problems.push(`${rel}: imports ${spec}; other folders are imported through their mod.ts only`);
    }
  }
  if (PURE.has(folder)) {
    for (const [re, what] of IMPURE_PATTERNS) {
      if (re.test(source)) problems.push(`${rel}: src/${folder} is pure but ${what}`);
    }
  }
}
if (ortFiles.length > ORT_FILE_LIMIT) {
  problems.push(
    `onnxruntime-node is imported by ${ortFiles.length} files (${
      ortFiles.join(", ")
    }); keep it to one file of src/runtime`,
  );
}
for (const f of ortFiles) {
  if (!f.startsWith("src/runtime/")) problems.push(`${f}: onnxruntime-node is imported outside src/runtime`);
}
if (problems.length > 0) {
  console.error(`lint:deps found ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  Deno.exit(1);
}
console.log("lint:deps: all imports respect the layout");
