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
      let view = null;
      timed(() => {
        view = renderTranscript(root, data, {
          loadMore: async (offset) => (await host.callTool("get_session_transcript", { session_id: sessionId, offset })).structuredContent,
        });
      });
      const review = argumentsFor("review_sessions", { session_ids: [sessionId] });
      if (review === null) {
        settle(true);
        return;
      }
      settle(false);
      host
        .callTool("review_sessions", review)
        .then((found) => {
          const flagged = listOf((found.structuredContent || {}).sessions).find((s) => s.session_id === sessionId);
          view.setFindings(flagged ? flagged.findings : []);
        })
        .catch(() => view.setFindings([]))
        .finally(() => settle(true));
    },
    cancelled(reason) {
      showError(root, `The tool call was cancelled${reason ? `: ${reason}` : ""}.`);
      settle(true);
    },
  });
})();
