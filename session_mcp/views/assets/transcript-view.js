// The transcript view: renders a get_session_transcript result, marks the session's QA findings
// (from check_session, a tool only views see).
const FINDINGS_TOOL = "check_session";

(() => {
  const root = document.getElementById("app");
  const host = connectHost("session-mcp transcript", {
    toolResult(result) {
      const data = result.structuredContent;
      if (result.isError || !data || !data.session) {
        timed(() => showError(root, textOf(result) || "This result has no transcript to show."));
        settle(true);
        return;
      }
      const sessionId = data.session.id;
      let view = null;
      timed(() => {
        view = renderTranscript(root, data, {
          loadMore: async (offset) => (await host.callTool("get_session_transcript", { session_id: sessionId, offset })).structuredContent,
        });
      });
      settle(false);
      host
        .callTool(FINDINGS_TOOL, { session_id: sessionId })
        .then((found) => view.setFindings((found.structuredContent || {}).findings))
        .catch(() => view.setFindings([]))
        .finally(() => settle(true));
    },
    cancelled(reason) {
      showError(root, `The tool call was cancelled${reason ? `: ${reason}` : ""}.`);
      settle(true);
    },
  });
})();
