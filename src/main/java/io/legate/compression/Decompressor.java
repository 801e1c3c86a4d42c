package io.legate.compression;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * One stream's decompressor. Confined to the stream's worker; not thread-safe. {@link #close()} must
 * be called exactly once by the owner.
 */
public interface Decompressor extends AutoCloseable {
  /**
   * Decompresses {@code input} (read, not released) and returns the bytes decoded so far, which the
   * caller owns.
   *
   * @throws DecompressionException when the input is not valid for this encoding or inflates beyond
   *     the configured limit
   */
  ByteBuf decompress(ByteBufAllocator alloc, ByteBuf input) throws DecompressionException;

  /** Frees the decompressor's state. Idempotent. */
  @Override
  void close();
}
