package io.legate.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;

/** Envoy's local replies: plain text bodies, and trailers-only responses for gRPC requests. */
public final class LocalReplies {
  static final AsciiString TEXT_PLAIN = AsciiString.cached("text/plain");
  static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
  static final AsciiString GRPC_MESSAGE = AsciiString.cached("grpc-message");
  static final AsciiString APPLICATION_GRPC = AsciiString.cached("application/grpc");

  private LocalReplies() {}

  /** Returns whether the request is gRPC (content-type application/grpc, +codec or ;params). */
  public static boolean isGrpc(Http2Headers request) {
    if (request == null) {
      return false;
    }
    CharSequence ct = request.get(HttpHeaderNames.CONTENT_TYPE);
    if (ct == null || !AsciiString.regionMatches(ct, true, 0, APPLICATION_GRPC, 0, 16)) {
      return false;
    }
    // As Envoy: application/grpc, application/grpc+<codec> or application/grpc;<params>; not gRPC-Web.
    return ct.length() == 16 || ct.charAt(16) == '+' || ct.charAt(16) == ';';
  }

  /** Builds the headers of a local reply. */
  public static Http2Headers headers(int status, String body, boolean grpc) {
    return headers(status, body, grpc, -1);
  }

  /**
   * Builds the headers of a local reply; for gRPC requests {@code grpcStatus} (when not negative)
   * is the grpc-status, else it is mapped from the HTTP status.
   */
  public static Http2Headers headers(int status, String body, boolean grpc, int grpcStatus) {
    Http2Headers h = new DefaultHttp2Headers(false);
    if (grpc) {
      h.status(AsciiString.of("200"));
      h.set(HttpHeaderNames.CONTENT_TYPE, APPLICATION_GRPC);
      h.setInt(GRPC_STATUS, grpcStatus >= 0 ? grpcStatus : grpcStatusFor(status));
      if (body != null && !body.isEmpty()) {
        h.set(GRPC_MESSAGE, percentEncode(body));
      }
      return h;
    }
    h.status(AsciiString.of(Integer.toString(status)));
    if (body != null && !body.isEmpty()) {
      h.setInt(HttpHeaderNames.CONTENT_LENGTH, body.getBytes(StandardCharsets.UTF_8).length);
      h.set(HttpHeaderNames.CONTENT_TYPE, TEXT_PLAIN);
    }
    return h;
  }

  public static ByteBuf body(ByteBufAllocator alloc, String body) {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    return alloc.buffer(b.length).writeBytes(b);
  }

  /** Envoy's HTTP status → gRPC status mapping (Grpc::Utility::httpToGrpcStatus). */
  public static int grpcStatusFor(int http) {
    return switch (http) {
      case 400 -> 13; // INTERNAL
      case 401 -> 16; // UNAUTHENTICATED
      case 403 -> 7; // PERMISSION_DENIED
      case 404 -> 12; // UNIMPLEMENTED
      case 429, 502, 503, 504 -> 14; // UNAVAILABLE
      default -> 2; // UNKNOWN
    };
  }

  /** Envoy's grpc-message percent-encoding: bytes outside printable ASCII, and {@code %}. */
  public static String percentEncode(String s) {
    StringBuilder sb = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c < 0x20 || c > 0x7e || c == '%') {
        sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      } else {
        sb.append((char) c);
      }
    }
    return sb.toString();
  }
}
