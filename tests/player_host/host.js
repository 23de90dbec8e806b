// The test host: embeds the player's HTML in a sandboxed iframe through ext-apps' AppBridge, the way a web host
// does, and forwards the app's tools/call and resources/read to the Python test (window.mcpCallTool and
// window.mcpReadResource, exposed by Playwright), which sends them to a live sora-mcp.
import {
  AppBridge,
  PostMessageTransport,
  isToolVisibilityAppOnly,
  isToolVisibilityModelOnly,
} from "@modelcontextprotocol/ext-apps/app-bridge";

// The default policy of the MCP Apps spec, widened only by the domains the resource declares.
function contentSecurityPolicy(csp = {}) {
  const res = (csp.resourceDomains || []).join(" ");
  const connect = (csp.connectDomains || []).join(" ") || "'none'";
  const frames = (csp.frameDomains || []).join(" ") || "'none'";
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline' ${res}`,
    `style-src 'self' 'unsafe-inline' ${res}`,
    `img-src 'self' data: ${res}`,
    `font-src 'self' ${res}`,
    `media-src 'self' data: ${res}`,
    `connect-src ${connect}`,
    `frame-src ${frames}`,
    "object-src 'none'",
    "base-uri 'self'",
  ].join("; ");
}

const log = { calls: [], reads: [], refused: [], downloads: [], sizes: [], initialized: false };
window.hostLog = log;
let bridge = null;
let context = {};

window.soraHost = {
  modelTools(tools) {
    return tools.filter((t) => !isToolVisibilityAppOnly(t)).map((t) => t.name);
  },
  async mount({ resource, tools, toolName, toolInput, toolResult, theme, refuseTools = [], downloadFile = true }) {
    const byName = new Map(tools.map((t) => [t.name, t]));
    const capabilities = {
      serverTools: {},
      serverResources: {},
      openLinks: {},
      ...(downloadFile ? { downloadFile: {} } : {}),
      sandbox: { csp: resource._meta?.ui?.csp || {} },
    };
    context = {
      theme,
      displayMode: "inline",
      availableDisplayModes: ["inline"],
      platform: "web",
      locale: "en-US",
      toolInfo: { tool: byName.get(toolName) },
    };
    const iframe = document.createElement("iframe");  // before the bridge's handlers use it
    iframe.id = "app";
    iframe.setAttribute("sandbox", "allow-scripts");
    iframe.title = "sora-mcp player";
    document.getElementById("frame").appendChild(iframe);
    bridge = new AppBridge(null, { name: "sora-mcp test host", version: "1.0.0" }, capabilities, {
      hostContext: context,
    });
    bridge.oncalltool = async (params) => {
      const tool = byName.get(params.name);
      if (!tool || isToolVisibilityModelOnly(tool) || refuseTools.includes(params.name)) {
        log.refused.push(params.name);
        throw new Error(`the user does not allow this app to call ${params.name}`);
      }
      log.calls.push({ name: params.name, arguments: params.arguments });
      return await window.mcpCallTool(params.name, params.arguments || {});
    };
    bridge.onreadresource = async (params) => {
      log.reads.push(params.uri);
      return await window.mcpReadResource(params.uri);
    };
    bridge.ondownloadfile = async (params) => {
      log.downloads.push(params.contents);
      return {};
    };
    bridge.onsizechange = (size) => {
      log.sizes.push(size);
      if (size.height) iframe.style.height = `${size.height}px`;
    };
    const ready = new Promise((resolve) => {
      bridge.oninitialized = () => {
        log.initialized = true;
        resolve();
      };
    });
    await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
    const meta = `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(resource._meta?.ui?.csp)}">`;
    iframe.srcdoc = resource.text.replace("<head>", `<head>${meta}`);
    await ready;
    await bridge.sendToolInput({ arguments: toolInput });
    await bridge.sendToolResult(toolResult);
  },
  async setTheme(theme) {
    context = { ...context, theme };
    bridge.setHostContext(context);
  },
};
