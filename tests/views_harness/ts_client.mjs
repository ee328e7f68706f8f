// The TypeScript SDK's own MCP client (@modelcontextprotocol/client, pinned in package.json)
// against a session-mcp process over stdio: what Node-based hosts speak. Reads a plan (JSON on
// stdin: the server command, its arguments, the tool calls to make), connects, lists tools,
// prompts and resource templates, makes each call and prints one JSON report on stdout. The
// SDK validates each result's structuredContent against the tool's outputSchema; a result it
// refuses is reported as that call's `thrown`.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.VIEWS_KIT, "package.json"));
const { Client } = require("@modelcontextprotocol/client");
const { StdioClientTransport } = require("@modelcontextprotocol/client/stdio");

const plan = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

const client = new Client({ name: "session-mcp-ts-check", version: "1.0.0" });
await client.connect(new StdioClientTransport({ command: plan.command, args: plan.args, env: plan.env, stderr: "ignore" }));
const { tools } = await client.listTools();
const { prompts } = await client.listPrompts();
const { resourceTemplates } = await client.listResourceTemplates();
const report = {
  server: client.getServerVersion(),
  tools: tools.map((tool) => tool.name),
  prompts: prompts.map((prompt) => prompt.name),
  templates: resourceTemplates.map((template) => template.uriTemplate),
  calls: [],
};
for (const call of plan.calls) {
  try {
    const result = await client.callTool({ name: call.name, arguments: call.arguments });
    const text = result.content.filter((block) => block.type === "text").map((block) => block.text).join("");
    report.calls.push({ name: call.name, isError: Boolean(result.isError), text, structured: result.structuredContent ?? null });
  } catch (error) {
    report.calls.push({ name: call.name, thrown: String(error && error.message ? error.message : error) });
  }
}
await client.close();
process.stdout.write(JSON.stringify(report));
