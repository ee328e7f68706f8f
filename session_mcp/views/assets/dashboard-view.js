// The dashboard view: renders a session_stats or review_sessions result.
(() => {
  const root = document.getElementById("app");
  let dashboard = null;
  const host = connectHost("session-mcp dashboard", {
    toolInput: (args) => dashboard.toolInput(args),
    toolResult: (result) => dashboard.toolResult(result),
    cancelled(reason) {
      showError(root, `The tool call was cancelled${reason ? `: ${reason}` : ""}.`);
      settle(true);
    },
  });
  dashboard = mountDashboard(root, host);
})();
