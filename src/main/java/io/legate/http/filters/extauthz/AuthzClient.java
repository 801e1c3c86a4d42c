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
   */
  Call check(Http2Headers headers, DecoderCallbacks callbacks, Map<String, String> contextExtensions,
      Consumer<AuthzResult> done);
}
