// The view's side of the MCP Apps protocol (io.modelcontextprotocol/ui, 2026-01-26): JSON-RPC 2.0
// over postMessage with the host. No SDK: the handshake, three notifications and tools/call are all
// a view needs, and the whole page must stay one small self-contained resource.
const PROTOCOL_VERSION = "2026-01-26";
const CALL_TIMEOUT_MS = 90000;

function connectHost(appName, handlers) {
  const pending = new Map();
  let nextId = 1;
  let capabilities = {}; // the host's, from its ui/initialize answer
  const post = (message) => window.parent.postMessage(message, "*");

  function request(method, params, timeoutMs) {
    const id = nextId++;
    post({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${method}: no answer from the host within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
    });
  }

  function notify(method, params) {
    post({ jsonrpc: "2.0", method, params });
  }

  function answer(message) {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.error) waiting.reject(new Error(String(message.error.message || "error from the host")));
    else waiting.resolve(message.result || {});
  }

  function serve(message) {
    // Requests from the host: teardown and ping are answered; nothing else is offered.
    if (message.method === "ui/resource-teardown" || message.method === "ping") {
      post({ jsonrpc: "2.0", id: message.id, result: {} });
    } else {
      post({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: `${message.method} is not offered` } });
    }
  }

  // The view renders the one tool call it was opened for. In the interactive phase a host also
  // sends tool-input and tool-result after each tools/call the view makes itself: those answers
  // reach the view through the call's promise, so every later input, result or cancel is ignored.
  let opened = false;
  const beforeResult = (handle) => (params) => {
    if (!opened) handle(params);
  };
  const notifications = {
    "ui/notifications/tool-input": beforeResult((params) => handlers.toolInput && handlers.toolInput(params.arguments || {})),
    "ui/notifications/tool-result": beforeResult((params) => {
      opened = true;
      handlers.toolResult(params);
    }),
    "ui/notifications/tool-cancelled": beforeResult((params) => handlers.cancelled && handlers.cancelled(params.reason)),
    "ui/notifications/host-context-changed": (params) => applyHostContext(params),
  };

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.method === undefined) answer(message);
    else if (message.id !== undefined) serve(message);
    else if (notifications[message.method]) notifications[message.method](message.params || {});
  });

  const ready = request(
    "ui/initialize",
    {
      protocolVersion: PROTOCOL_VERSION,
      appInfo: { name: appName, version: "1.0.0" },
      appCapabilities: { availableDisplayModes: ["inline"] },
    },
    CALL_TIMEOUT_MS,
  ).then((result) => {
    capabilities = result.hostCapabilities || {};
    applyHostContext(result.hostContext || {});
    notify("ui/notifications/initialized", {});
    reportSize(notify);
    return result;
  });

  return {
    ready,
    // Whether the host proxies tools/call to the server (hostCapabilities.serverTools): without it
    // the views offer nothing that needs a call, instead of a button that waits for no answer.
    canCallTools: () => Boolean(capabilities.serverTools),
    async callTool(name, args) {
      await ready;
      if (!capabilities.serverTools) throw new Error("this host does not let views call tools");
      const result = await request("tools/call", { name, arguments: args }, CALL_TIMEOUT_MS);
      if (result.isError) throw new Error(textOf(result) || `${name} failed`);
      return result;
    },
  };
}

function textOf(result) {
  return (result.content || [])
    .filter((block) => block && block.type === "text")
    .map((block) => block.text)
    .join("\n");
}

function applyHostContext(context) {
  const root = document.documentElement;
  if (context.theme === "light" || context.theme === "dark") {
    root.dataset.theme = context.theme;
  }
  const variables = (context.styles && context.styles.variables) || {};
  for (const [name, value] of Object.entries(variables)) {
    // CSSOM, not a style attribute: the page's CSP allows no inline style attributes.
    if (/^--[a-z0-9-]+$/.test(name) && typeof value === "string") root.style.setProperty(name, value);
  }
}

function reportSize(notify) {
  let last = "";
  const observer = new ResizeObserver(() => {
    const box = document.documentElement.getBoundingClientRect();
    const width = Math.ceil(box.width);
    const height = Math.ceil(box.height);
    const size = `${width}x${height}`;
    if (size !== last) {
      last = size;
      notify("ui/notifications/size-changed", { width, height });
    }
  });
  observer.observe(document.documentElement);
}

// The arguments of `given` that `tool` accepts (VIEW_TOOLS, from its schema, set by the server),
// each number within the tool's maximum; null when this server offers no such tool to views.
function argumentsFor(tool, given) {
  const shape = VIEW_TOOLS[tool];
  if (!shape) return null;
  const picked = {};
  for (const [name, maximum] of Object.entries(shape)) {
    const value = given[name];
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) continue;
    picked[name] = typeof maximum === "number" && typeof value === "number" ? Math.min(value, maximum) : value;
  }
  return picked;
}
