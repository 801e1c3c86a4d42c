package io.legate.http.filters.extauthz;

import io.legate.http.filter.DecoderCallbacks;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.Map;
import java.util.function.Consumer;

/** Asks an authorization service about one request. Implementations are immutable and shared. */
interface AuthzClient {
  /** An outstanding check. */
  interface Call {
    /** Abandons the check; its result is never delivered. */
    void cancel();
  }

  /**
   * Starts a check. {@code done} runs exactly once on the stream's worker, possibly before this
   * returns, unless the call is cancelled first.
   *
   * @param body the request body to send ({@code with_request_body}), or null
   * @param partialBody whether {@code body} is only the first part of the request's body
   */
  Call check(Http2Headers headers, DecoderCallbacks callbacks, Map<String, String> contextExtensions,
      byte[] body, boolean partialBody, Consumer<AuthzResult> done);
}
