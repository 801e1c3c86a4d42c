package io.legate.compression;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * One stream's compressor (Envoy's {@code Compression::Compressor::Compressor}). Confined to the
 * stream's worker; not thread-safe. Native state is freed by {@link #close()}, which the owner must
 * call exactly once whether or not the stream ended.
 */
public interface Compressor extends AutoCloseable {
  /**
   * Compresses {@code input} (read, not released: the caller keeps ownership) and returns the
   * compressed bytes produced so far, which the caller then owns. Without {@code finish} the output
   * is flushed so that a reader can decode everything given up to now (Envoy's {@code
   * State::Flush}); with {@code finish} the stream is ended (its trailer written).
   */
  ByteBuf compress(ByteBufAllocator alloc, ByteBuf input, boolean finish);

  /** Frees the compressor's state; further calls are not allowed. Idempotent. */
  @Override
  void close();
}
