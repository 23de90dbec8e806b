// Drive `sora-mcp serve` with the official TypeScript SDK (Client + StdioClientTransport), as every
// TypeScript host (Claude Desktop, VS Code, Cursor, MCP Inspector) does.
//
// usage: node sdk_scenario.mjs SCENARIO.json
// SCENARIO: {"command": "/abs/sora-mcp", "args": ["serve"], "sessions": [{"name", "env", "steps": [STEP]}]}
// STEP: {"id", "tool", "args", "sleep_ms"?, "until"?: {"field": "status", "in": ["completed", ...]}, "attempts"?}
// A string "{{step_id.field}}" in args is replaced by that field of an earlier step's structuredContent.
// Each session is one server process. Prints one JSON line: every step's outcome as the host saw it
// (result texts, isError, structuredContent, or the message of the error the SDK threw).
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

// The package's exports map resolves "package.json" to a stub in dist/; read the real one.
const sdkPackage = new URL("./node_modules/@modelcontextprotocol/sdk/package.json", import.meta.url);
const sdkVersion = JSON.parse(readFileSync(sdkPackage, "utf8")).version;
const scenario = JSON.parse(readFileSync(process.argv[2], "utf8"));
const CALL_TIMEOUT_MS = 60_000;

function lookup(outcomes, ref) {
  const [stepId, ...path] = ref.split(".");
  let value = outcomes[stepId]?.structured;
  for (const key of path) value = value?.[key];
  if (value === undefined) throw new Error(`template {{${ref}}}: no such value in an earlier step`);
  return value;
}

function fill(value, outcomes) {
  if (typeof value === "string") {
    const whole = value.match(/^\{\{([^}]+)\}\}$/);
    if (whole) return lookup(outcomes, whole[1]);
    return value.replace(/\{\{([^}]+)\}\}/g, (_, ref) => String(lookup(outcomes, ref)));
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, outcomes));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, outcomes)]));
  }
  return value;
}

async function callOnce(client, tool, args) {
  try {
    const result = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS });
    return {
      isError: result.isError === true,
      texts: (result.content ?? []).filter((b) => b.type === "text").map((b) => b.text),
      types: (result.content ?? []).map((b) => b.type),
      structured: result.structuredContent ?? null,
      thrown: null,
    };
  } catch (error) {
    return { isError: null, texts: [], types: [], structured: null, thrown: String(error?.message ?? error) };
  }
}

async function runSession(session) {
  const transport = new StdioClientTransport({
    command: scenario.command,
    args: scenario.args,
    env: session.env,
    cwd: "/",
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const client = new Client({ name: "sora-mcp-interop-ts", version: sdkVersion });
  const outcomes = {};
  const out = { tools: [], steps: outcomes, server: null, stderr: "" };
  let phase = "connect";
  try {
    await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
    out.server = client.getServerVersion() ?? null;
    phase = "tools/list";
    out.tools = (await client.listTools()).tools.map((t) => t.name);
    phase = "steps";
    for (const step of session.steps) {
      if (step.sleep_ms) await new Promise((resolve) => setTimeout(resolve, step.sleep_ms));
      let outcome;
      try {
        const args = fill(step.args ?? {}, outcomes);
        const attempts = step.until ? (step.attempts ?? 20) : 1;
        for (let i = 1; i <= attempts; i++) {
          outcome = { ...(await callOnce(client, step.tool, args)), attempts: i, args };
          const status = outcome.structured?.[step.until?.field];
          if (!step.until || outcome.thrown || outcome.isError || step.until.in.includes(status)) break;
        }
      } catch (error) {
        outcome = { isError: null, texts: [], types: [], structured: null, thrown: `driver: ${error.message}` };
      }
      outcomes[step.id] = outcome;
    }
  } catch (error) {
    out.fatal = `${phase}: ${String(error?.message ?? error)}`;
  } finally {
    await client.close().catch(() => {});
    out.stderr = stderr;
  }
  return out;
}

const report = { client: "@modelcontextprotocol/sdk", version: sdkVersion, node: process.version, sessions: {} };
for (const session of scenario.sessions) {
  report.sessions[session.name] = await runSession(session);
}
process.stdout.write(JSON.stringify(report) + "\n");
