package io.legate.http.filters.decompressor;

import io.legate.compression.DecompressionException;
import io.legate.compression.Decompressor;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.EncoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.http.filters.compressor.HeaderValues;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * Envoy's decompressor filter on one stream. A body whose first {@code Content-Encoding} token is
 * the library's encoding is decoded chunk by chunk as it passes (unless {@code Cache-Control:
 * no-transform}); that token and {@code Content-Length} are removed. When response decompression is
 * on, the request advertises the encoding upstream. Corrupt input resets the stream.
 */
final class DecompressorFilter implements HttpFilter {
  private final DecompressorConfig config;
  private DecoderCallbacks decoder;
  private EncoderCallbacks encoder;
  private Decompressor requestDecompressor;
  private Decompressor responseDecompressor;

  DecompressorFilter(DecompressorConfig config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public void setEncoderCallbacks(EncoderCallbacks callbacks) {
    this.encoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    if (config.response.enabled() && config.advertiseAcceptEncoding) {
      advertise(headers);
    }
    if (!endStream) {
      requestDecompressor = maybeStart(config.request, headers);
    }
    return Status.CONTINUE;
  }

  @Override
  public Status decodeData(ByteBuf data, boolean endStream) {
    if (requestDecompressor != null) {
      ByteBuf out = decompress(requestDecompressor, config.request, data);
      if (out != null) {
        decoder.replaceDecodingData(out);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (!endStream) {
      responseDecompressor = maybeStart(config.response, headers);
    }
    return Status.CONTINUE;
  }

  @Override
  public Status encodeData(ByteBuf data, boolean endStream) {
    if (responseDecompressor != null) {
      ByteBuf out = decompress(responseDecompressor, config.response, data);
      if (out != null) {
        encoder.replaceEncodingData(out);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public void onDestroy() {
    if (requestDecompressor != null) {
      requestDecompressor.close();
      requestDecompressor = null;
    }
    if (responseDecompressor != null) {
      responseDecompressor.close();
      responseDecompressor = null;
    }
  }

  private Decompressor maybeStart(DecompressorConfig.Direction dir, Http2Headers headers) {
    if (dir.enabled()
        && (dir.ignoreNoTransform() || !HeaderValues.noTransform(headers))
        && firstEncodingMatches(headers)) {
      dir.decompressed().inc();
      headers.remove(HeaderValues.CONTENT_LENGTH);
      removeFirstEncoding(headers);
      return config.library.create();
    }
    dir.notDecompressed().inc();
    return null;
  }

  private ByteBuf decompress(Decompressor d, DecompressorConfig.Direction dir, ByteBuf data) {
    dir.totalCompressedBytes().add(data.readableBytes());
    try {
      ByteBuf out = d.decompress(ByteBufAllocator.DEFAULT, data);
      dir.totalUncompressedBytes().add(out.readableBytes());
      return out;
    } catch (DecompressionException | RuntimeException e) {
      config.libraryErrors.inc();
      decoder.resetStream();
      return null;
    }
  }

  private boolean firstEncodingMatches(Http2Headers h) {
    CharSequence ce = h.get(HeaderValues.CONTENT_ENCODING);
    if (ce == null) {
      return false;
    }
    String s = ce.toString();
    int comma = s.indexOf(',');
    return (comma < 0 ? s : s.substring(0, comma)).trim().equalsIgnoreCase(config.contentEncoding);
  }

  private static void removeFirstEncoding(Http2Headers h) {
    String s = h.get(HeaderValues.CONTENT_ENCODING).toString();
    int comma = s.indexOf(',');
    String rest = comma < 0 ? "" : s.substring(comma + 1).trim();
    if (rest.isEmpty()) {
      h.remove(HeaderValues.CONTENT_ENCODING);
    } else {
      h.set(HeaderValues.CONTENT_ENCODING, rest);
    }
  }

  /** Adds the encoding to {@code Accept-Encoding}, replacing an entry for it (Envoy's behaviour). */
  private void advertise(Http2Headers h) {
    StringBuilder sb = new StringBuilder();
    for (CharSequence v : h.getAll(HeaderValues.ACCEPT_ENCODING)) {
      for (String token : v.toString().split(",")) {
        String t = token.trim();
        int semi = t.indexOf(';');
        String coding = (semi < 0 ? t : t.substring(0, semi)).trim();
        if (t.isEmpty() || coding.equalsIgnoreCase(config.contentEncoding)) {
          continue;
        }
        sb.append(t).append(',');
      }
    }
    sb.append(config.contentEncoding);
    h.set(HeaderValues.ACCEPT_ENCODING, sb.toString());
  }
}
