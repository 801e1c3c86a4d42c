package io.legate.http.filters.jwtauthn;

import io.netty.channel.EventLoop;

/** Where a provider's keys come from: inline or a file (fixed), or a remote JWKS (fetched, cached). */
interface JwksSource {
  /** Returns the keys usable now, or null when they are not (yet, or any more) at hand. */
  JwksKeys current();

  /** Returns whether a request needing these keys must fetch them first. */
  default boolean needsFetch() {
    return false;
  }

  /**
   * Fetches the keys (joining a fetch in flight) and runs {@code done} on {@code loop} when it
   * ends, whatever the outcome. Called on {@code loop}.
   */
  default void fetch(EventLoop loop, Runnable done) {
    done.run();
  }

  /** Keys given in the config. */
  record Fixed(JwksKeys keys) implements JwksSource {
    @Override
    public JwksKeys current() {
      return keys;
    }
  }
}
