// The transcript view: renders a get_session_transcript result, then marks the session's QA
// findings (review_sessions of this one session, with the server's rules) on their turns.
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
      const reviews = Boolean(VIEW_TOOLS.review_sessions);
      const calls = host.canCallTools();
      let view = null;
      timed(() => {
        view = renderTranscript(root, data, {
          loadMore: calls ? async (offset) => (await host.callTool("get_session_transcript", { session_id: sessionId, offset })).structuredContent : null,
          notice: calls || !reviews ? null : "QA findings are not marked: this host does not let the view call tools.",
        });
      });
      if (!reviews || !calls) {
        settle(true);
        return;
      }
      settle(false);
      sessionFindings(host, sessionId)
        .then((findings) => view.setFindings(findings || []))
        .catch(() => view.setFindings([]))
        .finally(() => settle(true));
    },
    cancelled(reason) {
      showError(root, `The tool call was cancelled${reason ? `: ${reason}` : ""}.`);
      settle(true);
    },
  });
})();
