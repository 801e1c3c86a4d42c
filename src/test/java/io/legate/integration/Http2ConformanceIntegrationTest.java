package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The downstream HTTP/2 server's behaviour on the wire (RFC 9113), driven by a hand-framed client
 * over a plain socket against a real upstream: connection start, flow control both ways, stream
 * limits and states, malformed requests, CONTINUATION, padding, trailers and draining. Each test
 * pins the frames (types, flags, stream ids, error codes) the server sends today.
 */
class Http2ConformanceIntegrationTest {
  static final String HCM_HEAD =
      """
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      """;
  static final String ROUTER =
      """
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      """;
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: h2
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
      """
          + HCM_HEAD
          + """
                  stat_prefix: h2
                  codec_type: HTTP2
                  http2_protocol_options:
                    max_concurrent_streams: 100
                    initial_stream_window_size: 2097152
                    initial_connection_window_size: 4194304
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: { prefix: "/local-4000" }
                        direct_response: { status: 200, body: { inline_string: "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" } }
                      - match: { prefix: "/", headers: [{ name: x-cluster, string_match: { exact: one } }] }
                        route: { cluster: one, timeout: 0s }
                      - match: { prefix: "/" }
                        route: { cluster: up }
      """
          + ROUTER
          + """
        - name: small
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
      """
          + HCM_HEAD
          + """
                  stat_prefix: small
                  codec_type: AUTO
                  max_request_headers_kb: 1
                  http2_protocol_options:
                    max_concurrent_streams: 2
                    initial_stream_window_size: 65535
                    initial_connection_window_size: 65535
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: { prefix: "/" }
                        route: { cluster: up }
      """
          + ROUTER
          + """
        - name: drain
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
      """
          + HCM_HEAD
          + """
                  stat_prefix: drain
                  codec_type: HTTP2
                  common_http_protocol_options: { max_requests_per_connection: 2 }
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: { prefix: "/" }
                        route: { cluster: up }
      """
          + ROUTER
          + """
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
        - name: one
          type: STATIC
          connect_timeout: 1s
          circuit_breakers: { thresholds: [{ max_connections: 1, max_pending_requests: 100, max_requests: 100 }] }
          load_assignment:
            cluster_name: one
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """;

  static final int DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PUSH_PROMISE = 5, PING = 6,
      GOAWAY = 7, WINDOW_UPDATE = 8, CONTINUATION = 9;
  static final int END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY_FLAG = 0x20;
  static final int NO_ERROR = 0, PROTOCOL_ERROR = 1, FLOW_CONTROL_ERROR = 3, STREAM_CLOSED = 5,
      FRAME_SIZE_ERROR = 6, REFUSED_STREAM = 7, CANCEL = 8;
  static final int SETTINGS_MAX_CONCURRENT_STREAMS = 3, SETTINGS_INITIAL_WINDOW_SIZE = 4,
      SETTINGS_MAX_FRAME_SIZE = 5, SETTINGS_MAX_HEADER_LIST_SIZE = 6;

  static TestUpstream up;
  static Legate legate;

  @BeforeAll
  static void start() {
    up = new TestUpstream("up");
    legate = Legate.start(CONFIG, Map.of("UP", up.port()));
  }

  @AfterAll
  static void stop() {
    legate.close();
    up.close();
  }

  // ------------------------------------------------------------------ the hand-framed client

  /** One frame read from the server; {@code headers} is the decoded block of a HEADERS frame. */
  record Frame(int type, int flags, int stream, byte[] payload, Http2Headers headers) {
    boolean has(int flag) {
      return (flags & flag) != 0;
    }

    /** The error code of a RST_STREAM or GOAWAY. */
    int error() {
      return type == GOAWAY ? int32(payload, 4) : int32(payload, 0);
    }

    /** The last-stream-id of a GOAWAY, or the increment of a WINDOW_UPDATE. */
    int value() {
      return int32(payload, 0) & 0x7fffffff;
    }

    @Override
    public String toString() {
      String name =
          switch (type) {
            case DATA -> "DATA";
            case HEADERS -> "HEADERS" + (headers == null ? "" : headers.toString().replaceFirst("^DefaultHttp2Headers", ""));
            case PRIORITY -> "PRIORITY";
            case RST_STREAM -> "RST_STREAM(" + error() + ")";
            case SETTINGS -> "SETTINGS" + (has(ACK) ? "(ACK)" : settings(this));
            case PING -> "PING";
            case GOAWAY -> "GOAWAY(last=" + value() + ", error=" + error() + ")";
            case WINDOW_UPDATE -> "WINDOW_UPDATE(" + value() + ")";
            default -> "type" + type;
          };
      return name + "[stream=" + stream + ", flags=0x" + Integer.toHexString(flags) + ", len=" + payload.length + "]";
    }
  }

  static int int32(byte[] b, int off) {
    return ((b[off] & 0xff) << 24) | ((b[off + 1] & 0xff) << 16) | ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
  }

  static byte[] int32(int v) {
    return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
  }

  static Map<Integer, Integer> settings(Frame f) {
    Map<Integer, Integer> m = new LinkedHashMap<>();
    for (int i = 0; i + 6 <= f.payload.length; i += 6) {
      m.put(((f.payload[i] & 0xff) << 8) | (f.payload[i + 1] & 0xff), int32(f.payload, i + 2));
    }
    return m;
  }

  /** What one stream received: its headers, body, trailers and how it ended. */
  record Response(Http2Headers headers, byte[] body, Http2Headers trailers, int reset, List<Frame> frames) {
    int status() {
      return Integer.parseInt(headers.status().toString());
    }

    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /** A client connection that writes frames by hand and reads the server's frames one by one. */
  static final class Conn implements AutoCloseable {
    final Socket socket = new Socket();
    final InputStream in;
    final OutputStream out;
    final DefaultHttp2HeadersEncoder encoder = new DefaultHttp2HeadersEncoder();
    final DefaultHttp2HeadersDecoder decoder = new DefaultHttp2HeadersDecoder(false);
    /** Every frame read so far. */
    final List<Frame> log = new ArrayList<>();
    private ByteArrayOutputStream pendingBlock;
    private int pendingStream, pendingFlags;

    Conn(String listener) throws IOException {
      socket.connect(new InetSocketAddress("127.0.0.1", legate.port(listener)), 5000);
      socket.setSoTimeout(5000);
      socket.setTcpNoDelay(true);
      in = socket.getInputStream();
      out = socket.getOutputStream();
    }

    /**
     * Preface and SETTINGS with large windows (responses never wait for the client), then ACKs the
     * server's SETTINGS and reads until the server ACKed ours.
     */
    Conn handshake() throws IOException {
      return handshake(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24), (1 << 24) - 65535);
    }

    /**
     * Preface, SETTINGS with {@code settings}, a connection WINDOW_UPDATE (when > 0), then ACKs the
     * server's SETTINGS and reads until the server ACKed ours.
     */
    Conn handshake(Map<Integer, Integer> settings, int connectionIncrement) throws IOException {
      preface(settings);
      if (connectionIncrement > 0) {
        send(WINDOW_UPDATE, 0, 0, int32(connectionIncrement));
      }
      readUntil(f -> f.type == SETTINGS && !f.has(ACK));
      send(SETTINGS, ACK, 0, new byte[0]);
      readUntil(f -> f.type == SETTINGS && f.has(ACK)); // the server's opening frames are all read
      return this;
    }

    void preface(Map<Integer, Integer> settings) throws IOException {
      out.write(Http2CodecUtil.connectionPrefaceBuf().toString(StandardCharsets.US_ASCII).getBytes(StandardCharsets.US_ASCII));
      sendSettings(settings);
    }

    void sendSettings(Map<Integer, Integer> settings) throws IOException {
      ByteArrayOutputStream p = new ByteArrayOutputStream();
      settings.forEach(
          (k, v) -> {
            p.write(k >>> 8);
            p.write(k);
            p.writeBytes(int32(v));
          });
      send(SETTINGS, 0, 0, p.toByteArray());
    }

    void send(int type, int flags, int stream, byte[] payload) throws IOException {
      byte[] f = new byte[9 + payload.length];
      f[0] = (byte) (payload.length >>> 16);
      f[1] = (byte) (payload.length >>> 8);
      f[2] = (byte) payload.length;
      f[3] = (byte) type;
      f[4] = (byte) flags;
      System.arraycopy(int32(stream), 0, f, 5, 4);
      System.arraycopy(payload, 0, f, 9, payload.length);
      out.write(f);
    }

    /** HPACK-encodes {@code h} with this connection's encoder (its dynamic table carries over). */
    byte[] encode(Http2Headers h) {
      ByteBuf buf = Unpooled.buffer();
      try {
        encoder.encodeHeaders(1, h, buf);
        byte[] b = new byte[buf.readableBytes()];
        buf.readBytes(b);
        return b;
      } catch (Http2Exception e) {
        throw new AssertionError(e);
      } finally {
        buf.release();
      }
    }

    /** A request header block: {@code method path} plus name/value pairs. */
    byte[] request(String method, String path, String... extra) {
      Http2Headers h = new DefaultHttp2Headers(false).method(method).scheme("http").authority("a").path(path);
      for (int i = 0; i < extra.length; i += 2) {
        h.add(extra[i], extra[i + 1]);
      }
      return encode(h);
    }

    /** A GET with END_STREAM on {@code stream}. */
    void get(int stream, String path, String... extra) throws IOException {
      send(HEADERS, END_HEADERS | END_STREAM, stream, request("GET", path, extra));
    }

    void ping(byte[] eight) throws IOException {
      send(PING, 0, 0, eight);
    }

    /** Reads one frame; null when the server closed the connection. */
    Frame read() throws IOException {
      byte[] head = in.readNBytes(9);
      if (head.length < 9) {
        return null;
      }
      int len = ((head[0] & 0xff) << 16) | ((head[1] & 0xff) << 8) | (head[2] & 0xff);
      int stream = int32(head, 5) & 0x7fffffff;
      byte[] payload = in.readNBytes(len);
      if (payload.length < len) {
        return null;
      }
      int type = head[3] & 0xff, flags = head[4] & 0xff;
      Http2Headers headers = null;
      if (type == HEADERS || type == CONTINUATION) {
        int off = 0, pad = 0;
        if (type == HEADERS) {
          if ((flags & PADDED) != 0) {
            pad = payload[0] & 0xff;
            off = 1;
          }
          if ((flags & PRIORITY_FLAG) != 0) {
            off += 5;
          }
          pendingBlock = new ByteArrayOutputStream();
          pendingStream = stream;
          pendingFlags = flags;
        }
        pendingBlock.write(payload, off, len - off - pad);
        if ((flags & END_HEADERS) != 0) {
          ByteBuf b = Unpooled.wrappedBuffer(pendingBlock.toByteArray());
          try {
            headers = decoder.decodeHeaders(pendingStream, b);
          } catch (Http2Exception e) {
            throw new AssertionError(e);
          } finally {
            b.release();
          }
          if (type == CONTINUATION) {
            // Reported as the HEADERS frame it completes.
            type = HEADERS;
            flags = pendingFlags | END_HEADERS;
          }
        }
      }
      Frame f = new Frame(type, flags, stream, payload, headers);
      log.add(f);
      return f;
    }

    /** Reads frames until one matches; fails on close or after the socket timeout, listing what arrived. */
    Frame readUntil(Predicate<Frame> p) throws IOException {
      List<Frame> frames = collectUntil(p);
      return frames.get(frames.size() - 1);
    }

    /** Reads frames until one matches; returns every frame read by this call, the match last. */
    List<Frame> collectUntil(Predicate<Frame> p) throws IOException {
      int mark = log.size();
      while (true) {
        Frame f;
        try {
          f = read();
        } catch (SocketTimeoutException e) {
          throw new AssertionError("timed out waiting for a frame; received: " + log);
        }
        if (f == null) {
          throw new AssertionError("connection closed while waiting for a frame; received: " + log);
        }
        if (p.test(f)) {
          return new ArrayList<>(log.subList(mark, log.size()));
        }
      }
    }

    /** Reads until the server closes the connection; returns the frames read (fails when it stays open). */
    List<Frame> readToClose() throws IOException {
      int from = log.size();
      try {
        while (read() != null) {
          // collected in the log
        }
      } catch (SocketTimeoutException e) {
        throw new AssertionError("connection still open; received: " + log);
      } catch (IOException e) {
        // reset by the server after its last frame
      }
      return new ArrayList<>(log.subList(from, log.size()));
    }

    /** Sends a PING and reads until its ACK; returns the frames that arrived before the ACK. */
    List<Frame> roundTrip() throws IOException {
      byte[] eight = {9, 8, 7, 6, 5, 4, 3, 2};
      ping(eight);
      List<Frame> frames = collectUntil(f -> f.type == PING && f.has(ACK) && Arrays.equals(f.payload, eight));
      return frames.subList(0, frames.size() - 1);
    }

    /** Reads until each of the streams ended (END_STREAM or RST_STREAM) and returns what each received. */
    Map<Integer, Response> responses(int... streams) throws IOException {
      Map<Integer, Boolean> open = new HashMap<>();
      for (int s : streams) {
        open.put(s, true);
      }
      int from = log.size();
      while (open.containsValue(true)) {
        Frame f =
            readUntil(
                x -> open.getOrDefault(x.stream, false) && (x.has(END_STREAM) && (x.type == DATA || x.type == HEADERS) || x.type == RST_STREAM));
        open.put(f.stream, false);
      }
      Map<Integer, Response> result = new HashMap<>();
      for (int s : streams) {
        List<Frame> frames = log.subList(from, log.size()).stream().filter(f -> f.stream == s).toList();
        Http2Headers headers = null, trailers = null;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        int reset = -1;
        for (Frame f : frames) {
          if (f.type == HEADERS) {
            if (headers == null) {
              headers = f.headers;
            } else {
              trailers = f.headers;
            }
          } else if (f.type == DATA) {
            body.writeBytes(dataOf(f));
          } else if (f.type == RST_STREAM) {
            reset = f.error();
          }
        }
        result.put(s, new Response(headers, body.toByteArray(), trailers, reset, frames));
      }
      return result;
    }

    Response response(int stream) throws IOException {
      return responses(stream).get(stream);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** The data of a DATA frame, without its padding. */
  static byte[] dataOf(Frame f) {
    if (!f.has(PADDED)) {
      return f.payload;
    }
    int pad = f.payload[0] & 0xff;
    return Arrays.copyOfRange(f.payload, 1, f.payload.length - pad);
  }

  static int dataBytes(List<Frame> frames, int stream) {
    return frames.stream().filter(f -> f.type == DATA && (stream < 0 || f.stream == stream)).mapToInt(f -> dataOf(f).length).sum();
  }

  /** An HPACK "literal without indexing, new name" field (no Huffman; short names and values). */
  static byte[] literal(String name, String value) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(0);
    b.write(name.length());
    b.writeBytes(name.getBytes(StandardCharsets.US_ASCII));
    b.write(value.length());
    b.writeBytes(value.getBytes(StandardCharsets.US_ASCII));
    return b.toByteArray();
  }

  /** A header block of literal fields in exactly the given order, leaving both HPACK tables untouched. */
  static byte[] rawBlock(String... nameValues) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int i = 0; i < nameValues.length; i += 2) {
      b.writeBytes(literal(nameValues[i], nameValues[i + 1]));
    }
    return b.toByteArray();
  }

  static byte[] body(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ('a' + (i % 26));
    }
    return b;
  }

  /** The body the upstream echoed (after its header lines). */
  static String echoedBody(Response r) {
    String t = r.text();
    return t.substring(t.indexOf("\n\n") + 2);
  }

  /** The connection still serves: a GET on {@code stream} is answered 200. */
  static void assertServes(Conn c, int stream) throws IOException {
    c.get(stream, "/still-serving");
    Response r = c.response(stream);
    assertThat(r.reset).as("frames: %s", r.frames).isEqualTo(-1);
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.text()).startsWith("GET /still-serving ");
  }

  /**
   * The server ended the connection with GOAWAY {@code error} and closed it; {@code last} is the
   * highest stream it processed (RFC 9113 6.8), 0 when none.
   */
  static void assertGoAwayAndClose(Conn c, int error, int last) throws IOException {
    Frame g = c.readUntil(f -> f.type == GOAWAY);
    assertThat(g.error()).as("GOAWAY error code; frames: %s", c.log).isEqualTo(error);
    assertThat(g.value()).as("GOAWAY last-stream-id").isEqualTo(last);
    assertThat(c.readToClose()).noneMatch(f -> f.type == HEADERS || f.type == DATA);
  }

  // ------------------------------------------------------------------ 1. connection start

  @Test
  void serverSendsSettingsFirstAcksOursAndOpensItsConnectionWindow() throws Exception {
    try (Conn c = new Conn("h2")) {
      c.preface(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 100_000));
      Frame first = c.read();
      assertThat(first.type).isEqualTo(SETTINGS);
      assertThat(first.has(ACK)).isFalse();
      assertThat(first.stream).isZero();
      assertThat(settings(first))
          .containsEntry(SETTINGS_MAX_CONCURRENT_STREAMS, 100)
          .containsEntry(SETTINGS_INITIAL_WINDOW_SIZE, 2097152)
          .containsEntry(SETTINGS_MAX_HEADER_LIST_SIZE, 60 * 1024);
      List<Frame> rest = new ArrayList<>(List.of(first));
      rest.addAll(c.collectUntil(f -> f.type == SETTINGS && f.has(ACK)));
      Frame wu = rest.stream().filter(f -> f.type == WINDOW_UPDATE).findFirst().orElse(null);
      if (wu == null) {
        wu = c.readUntil(f -> f.type == WINDOW_UPDATE);
      }
      assertThat(wu.stream).isZero();
      assertThat(wu.value()).isEqualTo(4194304 - 65535);
      Frame ack = c.log.stream().filter(f -> f.type == SETTINGS && f.has(ACK)).findFirst().orElseThrow();
      assertThat(ack.payload).isEmpty();
      assertThat(c.log.stream().filter(f -> f.type == SETTINGS && !f.has(ACK))).hasSize(1);
      c.send(SETTINGS, ACK, 0, new byte[0]);
      assertServes(c, 1);
    }
  }

  @Test
  void noConnectionWindowUpdateWhenTheConfiguredWindowIsTheDefault() throws Exception {
    try (Conn c = new Conn("small")) {
      c.preface(Map.of());
      Frame settings = c.readUntil(f -> f.type == SETTINGS && !f.has(ACK));
      assertThat(settings(settings))
          .containsEntry(SETTINGS_MAX_CONCURRENT_STREAMS, 2)
          .containsEntry(SETTINGS_INITIAL_WINDOW_SIZE, 65535)
          .containsEntry(SETTINGS_MAX_HEADER_LIST_SIZE, 1024);
      assertThat(c.roundTrip()).noneMatch(f -> f.type == WINDOW_UPDATE);
    }
  }

  // ------------------------------------------------------------------ 2. PING

  @Test
  void pingIsAnsweredWithAckCarryingTheSameEightBytes() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      byte[] eight = {1, 2, 3, 4, 5, 6, 7, (byte) 0xff};
      c.ping(eight);
      Frame ack = c.readUntil(f -> f.type == PING);
      assertThat(ack.has(ACK)).isTrue();
      assertThat(ack.stream).isZero();
      assertThat(ack.payload).isEqualTo(eight);
    }
  }

  // ------------------------------------------------------------------ 3. requests

  @Test
  void getIsAnsweredWithHeadersThenDataWithEndStream() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(1, "/hello");
      Response r = c.response(1);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.headers.get("x-upstream").toString()).isEqualTo("up");
      assertThat(r.text()).startsWith("GET /hello HTTP/1.1\n");
      assertThat(r.frames.get(0).type).isEqualTo(HEADERS);
      assertThat(r.frames.get(0).has(END_STREAM)).isFalse();
      Frame last = r.frames.get(r.frames.size() - 1);
      assertThat(last.type).isEqualTo(DATA);
      assertThat(last.has(END_STREAM)).isTrue();
      assertThat(r.frames).allMatch(f -> f.type == HEADERS || f.type == DATA);
      assertThat(r.headers.get("content-length").toString()).isEqualTo(String.valueOf(r.body.length));
    }
  }

  @Test
  void requestsOnStreamsOneThreeFiveSentTogetherAllComplete() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(1, "/a");
      c.get(3, "/b");
      c.get(5, "/c");
      Map<Integer, Response> rs = c.responses(1, 3, 5);
      assertThat(rs.get(1).text()).startsWith("GET /a ");
      assertThat(rs.get(3).text()).startsWith("GET /b ");
      assertThat(rs.get(5).text()).startsWith("GET /c ");
      assertThat(rs.values()).allMatch(r -> r.status() == 200 && r.reset == -1);
    }
  }

  @Test
  void hpackDynamicTableIsReusedAcrossTwentySequentialRequests() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      List<Integer> sizes = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        int stream = 1 + 2 * i;
        byte[] block = c.request("GET", "/same", "x-custom", "a-value-that-goes-into-the-table");
        sizes.add(block.length);
        c.send(HEADERS, END_HEADERS | END_STREAM, stream, block);
        Response r = c.response(stream);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.text()).startsWith("GET /same ").contains("\nx-custom: a-value-that-goes-into-the-table\n");
      }
      // The later blocks are indexed references only: the server's decoder table follows ours.
      assertThat(sizes.get(1)).isLessThan(sizes.get(0) / 2);
      assertThat(sizes.subList(1, 20)).containsOnly(sizes.get(1));
    }
  }

  // ------------------------------------------------------------------ 4. request body and its flow control

  @Test
  void requestBodyArrivesIntactAndTheServerReopensStreamAndConnectionWindows() throws Exception {
    byte[] payload = body(200 * 1024);
    try (Conn c = new Conn("small").handshake()) {
      c.send(HEADERS, END_HEADERS, 1, c.request("POST", "/upload", "content-length", String.valueOf(payload.length)));
      int streamWindow = 65535, connWindow = 65535, sent = 0;
      while (sent < payload.length) {
        if (streamWindow == 0 || connWindow == 0) {
          Frame wu = c.readUntil(f -> f.type == WINDOW_UPDATE);
          if (wu.stream == 0) {
            connWindow += wu.value();
          } else {
            assertThat(wu.stream).isEqualTo(1);
            streamWindow += wu.value();
          }
          continue;
        }
        int n = Math.min(Math.min(16384, payload.length - sent), Math.min(streamWindow, connWindow));
        boolean end = sent + n == payload.length;
        c.send(DATA, end ? END_STREAM : 0, 1, Arrays.copyOfRange(payload, sent, sent + n));
        sent += n;
        streamWindow -= n;
        connWindow -= n;
      }
      Response r = c.response(1);
      assertThat(r.status()).isEqualTo(200);
      assertThat(echoedBody(r)).isEqualTo(new String(payload, StandardCharsets.US_ASCII));
      // 200 KiB through 64 KiB windows: both were reopened several times.
      assertThat(c.log).filteredOn(f -> f.type == WINDOW_UPDATE && f.stream == 1).hasSizeGreaterThanOrEqualTo(3);
      assertThat(c.log).filteredOn(f -> f.type == WINDOW_UPDATE && f.stream == 0).hasSizeGreaterThanOrEqualTo(3);
      // Reopened once half the window was consumed, never beyond the initial window.
      assertThat(c.log).filteredOn(f -> f.type == WINDOW_UPDATE).allMatch(f -> f.value() >= 32767 && f.value() <= 65535);
    }
  }

  // ------------------------------------------------------------------ 5. response flow control

  @Test
  void responseDataStopsAtTheStreamWindowUntilAStreamWindowUpdate() throws Exception {
    try (Conn c = new Conn("h2").handshake(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 1000), 1 << 20)) {
      c.get(1, "/size/16384");
      int[] got = {0};
      c.readUntil(
          f -> {
            if (f.type == DATA && f.stream == 1) {
              got[0] += dataOf(f).length;
              assertThat(got[0]).isLessThanOrEqualTo(1000);
            }
            return got[0] == 1000;
          });
      assertThat(c.roundTrip()).noneMatch(f -> f.type == DATA);
      c.send(WINDOW_UPDATE, 0, 1, int32(15384));
      Response r = c.response(1);
      assertThat(r.body.length).isEqualTo(15384);
      assertThat(r.frames.get(r.frames.size() - 1).has(END_STREAM)).isTrue();
    }
  }

  @Test
  void responseDataAcrossStreamsStopsAtTheConnectionWindowUntilAConnectionWindowUpdate() throws Exception {
    try (Conn c = new Conn("h2").handshake(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20), 0)) {
      c.get(1, "/size/40000");
      c.get(3, "/size/40000");
      int[] got = {0};
      c.readUntil(
          f -> {
            if (f.type == DATA) {
              got[0] += dataOf(f).length;
              assertThat(got[0]).isLessThanOrEqualTo(65535);
            }
            return got[0] == 65535;
          });
      assertThat(c.roundTrip()).noneMatch(f -> f.type == DATA);
      c.send(WINDOW_UPDATE, 0, 0, int32(80000 - 65535));
      // How the first 65535 bytes were shared between the streams is the server's choice (one may
      // have ended already): read until both have.
      for (int s : new int[] {1, 3}) {
        if (c.log.stream().noneMatch(f -> f.stream == s && f.type == DATA && f.has(END_STREAM))) {
          c.readUntil(f -> f.stream == s && f.type == DATA && f.has(END_STREAM));
        }
      }
      assertThat(dataBytes(c.log, 1)).isEqualTo(40000);
      assertThat(dataBytes(c.log, 3)).isEqualTo(40000);
    }
  }

  @Test
  void responseThatEndsBeforeTheRequestSendsItsQueuedDataThenRstStreamNoError() throws Exception {
    // The route answers at once (4000 bytes) while the request body is still open; the response
    // waits behind a 1000-byte stream window. All of it, END_STREAM, then RST_STREAM(NO_ERROR)
    // asking the client to stop sending (RFC 9113 8.1).
    try (Conn c = new Conn("h2").handshake(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 1000), 1 << 20)) {
      c.send(HEADERS, END_HEADERS, 1, c.request("POST", "/local-4000"));
      int[] got = {0};
      c.readUntil(f -> f.type == DATA && f.stream == 1 && (got[0] += dataOf(f).length) == 1000);
      assertThat(c.roundTrip()).noneMatch(f -> f.stream == 1);
      c.send(WINDOW_UPDATE, 0, 1, int32(10_000));
      Frame rst = c.readUntil(f -> f.stream == 1 && f.type == RST_STREAM);
      assertThat(rst.error()).isEqualTo(NO_ERROR);
      List<Frame> own = c.log.stream().filter(f -> f.stream == 1).toList();
      assertThat(dataBytes(c.log, 1)).isEqualTo(4000);
      Frame last = own.get(own.size() - 2);
      assertThat(last.type).isEqualTo(DATA);
      assertThat(last.has(END_STREAM)).isTrue();
      // Body the client sent before it saw the reset is ignored, not answered (RFC 9113 5.1).
      c.send(DATA, 0, 1, new byte[100]);
      c.send(DATA, END_STREAM, 1, new byte[100]);
      assertThat(c.roundTrip()).as("frames: %s", c.log).isEmpty();
      assertServes(c, 3);
    }
  }

  @Test
  void raisingInitialWindowSizeFromZeroMidStreamReleasesQueuedData() throws Exception {
    try (Conn c = new Conn("h2").handshake(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 0), 1 << 20)) {
      c.get(1, "/size/5000");
      Frame h = c.readUntil(f -> f.type == HEADERS && f.stream == 1);
      assertThat(h.headers.status().toString()).isEqualTo("200");
      assertThat(h.has(END_STREAM)).isFalse();
      assertThat(c.roundTrip()).noneMatch(f -> f.type == DATA);
      c.sendSettings(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 65535));
      Response r = c.response(1);
      assertThat(r.body).isEqualTo(body(5000));
      assertThat(c.log).anyMatch(f -> f.type == SETTINGS && f.has(ACK) && c.log.indexOf(f) > c.log.indexOf(h));
    }
  }

  // ------------------------------------------------------------------ 6. max frame size

  @Test
  void dataFramesNeverExceedTheDefaultMaxFrameSize() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(1, "/size/200000");
      Response r = c.response(1);
      assertThat(r.body).isEqualTo(body(200000));
      List<Frame> data = r.frames.stream().filter(f -> f.type == DATA).toList();
      assertThat(data).allMatch(f -> f.payload.length <= 16384);
      assertThat(data).anyMatch(f -> f.payload.length == 16384);
    }
  }

  @Test
  void dataFramesMayGrowToTheMaxFrameSizeTheClientAdvertises() throws Exception {
    Map<Integer, Integer> s = Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 0, SETTINGS_MAX_FRAME_SIZE, 65536);
    try (Conn c = new Conn("h2").handshake(s, 1 << 24)) {
      c.get(1, "/size/200000");
      c.readUntil(f -> f.type == HEADERS && f.stream == 1);
      c.roundTrip();
      c.sendSettings(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24));
      Response r = c.response(1);
      assertThat(r.body).isEqualTo(body(200000));
      List<Frame> data = r.frames.stream().filter(f -> f.type == DATA).toList();
      // The queued body goes out in frames of the advertised size.
      assertThat(data).allMatch(f -> f.payload.length <= 65536);
      assertThat(data).anyMatch(f -> f.payload.length == 65536);
    }
  }

  // ------------------------------------------------------------------ 7. max concurrent streams

  @Test
  void streamBeyondMaxConcurrentStreamsIsRefusedAndTheOthersComplete() throws Exception {
    try (Conn c = new Conn("small").handshake()) {
      c.get(1, "/delay/300");
      c.get(3, "/delay/300");
      c.get(5, "/hello");
      Map<Integer, Response> rs = c.responses(1, 3, 5);
      assertThat(rs.get(5).reset).isEqualTo(REFUSED_STREAM);
      assertThat(rs.get(5).frames).hasSize(1);
      assertThat(rs.get(1).status()).isEqualTo(200);
      assertThat(rs.get(3).status()).isEqualTo(200);
      assertThat(c.log).noneMatch(f -> f.type == GOAWAY);
      assertServes(c, 7);
    }
  }

  // ------------------------------------------------------------------ 8. stream ids

  @Test
  void headersOnAnEvenStreamIdIsAConnectionProtocolError() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(2, "/even");
      assertGoAwayAndClose(c, PROTOCOL_ERROR, 0);
    }
  }

  @Test
  void headersOnAStreamIdLowerThanOneUsedIsResetStreamClosed() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(5, "/five");
      assertThat(c.response(5).status()).isEqualTo(200);
      c.send(HEADERS, END_HEADERS | END_STREAM, 3, rawBlock(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/three"));
      Frame rst = c.readUntil(f -> f.stream == 3 || f.type == GOAWAY);
      assertThat(rst.type).isEqualTo(RST_STREAM);
      assertThat(rst.error()).isEqualTo(STREAM_CLOSED);
      assertServes(c, 7);
    }
  }

  // ------------------------------------------------------------------ 9. malformed requests

  /** The header block on stream 1 is refused with RST_STREAM {@code error}; stream 3 is then served. */
  static void assertMalformedIsReset(byte[] block, int error) throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.send(HEADERS, END_HEADERS | END_STREAM, 1, block);
      Frame f = c.readUntil(x -> x.stream == 1 || x.type == GOAWAY);
      assertThat(f.type).as("frames: %s", c.log).isEqualTo(RST_STREAM);
      assertThat(f.error()).isEqualTo(error);
      assertServes(c, 3);
    }
  }

  @Test
  void uppercaseHeaderNameResetsTheStream() throws Exception {
    assertMalformedIsReset(rawBlock(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "X-Upper", "v"), PROTOCOL_ERROR);
  }

  @Test
  void connectionSpecificHeaderResetsTheStream() throws Exception {
    assertMalformedIsReset(
        rawBlock(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/", "connection", "keep-alive"), PROTOCOL_ERROR);
  }

  @Test
  void missingPathIsAnsweredWith400() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.send(HEADERS, END_HEADERS | END_STREAM, 1, rawBlock(":method", "GET", ":scheme", "http", ":authority", "a"));
      Frame f = c.readUntil(x -> x.stream == 1 || x.type == GOAWAY);
      assertThat(f.type).as("frames: %s", c.log).isEqualTo(HEADERS);
      assertThat(f.headers.status().toString()).isEqualTo("400");
      assertThat(f.has(END_STREAM)).isTrue();
      assertThat(c.roundTrip()).noneMatch(x -> x.stream == 1);
      assertServes(c, 3);
    }
  }

  @Test
  void pseudoHeaderAfterARegularHeaderResetsTheStream() throws Exception {
    assertMalformedIsReset(rawBlock(":method", "GET", ":scheme", "http", "x-regular", "v", ":authority", "a", ":path", "/"), PROTOCOL_ERROR);
  }

  // ------------------------------------------------------------------ 10. content-length

  @Test
  void bodyShorterThanContentLengthResetsTheStream() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.send(HEADERS, END_HEADERS, 1, c.request("POST", "/cl", "content-length", "10"));
      c.send(DATA, END_STREAM, 1, "12345".getBytes(StandardCharsets.US_ASCII));
      Response r = c.response(1);
      assertThat(r.frames).as("frames: %s", r.frames).hasSize(1);
      assertThat(r.reset).isEqualTo(PROTOCOL_ERROR);
      assertServes(c, 3);
    }
  }

  // ------------------------------------------------------------------ 11. frames the state machine forbids

  @Test
  void dataOnACompletedStreamIsResetStreamClosed() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(1, "/done");
      assertThat(c.response(1).status()).isEqualTo(200);
      c.send(DATA, END_STREAM, 1, "late".getBytes(StandardCharsets.US_ASCII));
      Frame f = c.readUntil(x -> x.stream == 1 || x.type == GOAWAY);
      assertThat(f.type).isEqualTo(RST_STREAM);
      assertThat(f.error()).isEqualTo(STREAM_CLOSED);
      assertServes(c, 3);
    }
  }

  @Test
  void rstStreamOnAnIdleStreamIsAConnectionProtocolError() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.send(RST_STREAM, 0, 5, int32(CANCEL));
      assertGoAwayAndClose(c, PROTOCOL_ERROR, 0);
    }
  }

  @Test
  void zeroConnectionWindowUpdateIsAConnectionProtocolError() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.send(WINDOW_UPDATE, 0, 0, int32(0));
      assertGoAwayAndClose(c, PROTOCOL_ERROR, 0);
    }
  }

  @Test
  void connectionWindowOverflowIsAConnectionFlowControlError() throws Exception {
    try (Conn c = new Conn("h2").handshake(Map.of(), 0)) {
      c.send(WINDOW_UPDATE, 0, 0, int32(0x7fffffff));
      assertGoAwayAndClose(c, FLOW_CONTROL_ERROR, 0);
    }
  }

  @Test
  void pushPromiseFromTheClientIsAConnectionProtocolError() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(1, "/delay/2000");
      ByteArrayOutputStream p = new ByteArrayOutputStream();
      p.writeBytes(int32(2));
      p.writeBytes(rawBlock(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/pushed"));
      c.send(PUSH_PROMISE, END_HEADERS, 1, p.toByteArray());
      assertGoAwayAndClose(c, PROTOCOL_ERROR, 1);
    }
  }

  @Test
  void frameLargerThanTheMaxFrameSizeIsAConnectionFrameSizeError() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.send(HEADERS, END_HEADERS, 1, c.request("POST", "/big"));
      c.send(DATA, 0, 1, new byte[16385]);
      assertGoAwayAndClose(c, FRAME_SIZE_ERROR, 1);
    }
  }

  @Test
  void dataBeyondTheStreamReceiveWindowResetsTheStreamWithFlowControlError() throws Exception {
    // Cluster "one" has a single connection: stream 1 holds it, so stream 3's body waits in the
    // router, which stops reading it past 1 MiB. The stream window (2 MiB) then stops reopening.
    try (Conn c = new Conn("h2").handshake()) {
      c.get(1, "/delay/10000", "x-cluster", "one");
      c.send(HEADERS, END_HEADERS, 3, c.request("POST", "/upload", "x-cluster", "one"));
      long streamWindow = 2097152, connWindow = 4194304;
      byte[] chunk = new byte[16384];
      while (true) {
        int sent = 0;
        while (streamWindow > 0 && sent < 32) {
          int n = (int) Math.min(chunk.length, streamWindow);
          c.send(DATA, 0, 3, Arrays.copyOf(chunk, n));
          streamWindow -= n;
          connWindow -= n;
          sent++;
        }
        long before = streamWindow;
        for (Frame f : c.roundTrip()) {
          assertThat(f.type).as("frames: %s", c.log).isNotIn(RST_STREAM, GOAWAY);
          if (f.type == WINDOW_UPDATE) {
            if (f.stream == 3) {
              streamWindow += f.value();
            } else if (f.stream == 0) {
              connWindow += f.value();
            }
          }
        }
        if (streamWindow == 0 && before == 0) {
          break; // exhausted, and nothing reopened it
        }
      }
      assertThat(connWindow).isPositive();
      c.send(DATA, 0, 3, new byte[1]);
      Frame f = c.readUntil(x -> x.stream == 3 || x.type == GOAWAY);
      assertThat(f.type).isEqualTo(RST_STREAM);
      assertThat(f.error()).isEqualTo(FLOW_CONTROL_ERROR);
      assertThat(c.roundTrip()).noneMatch(x -> x.type == GOAWAY);
    }
  }

  // ------------------------------------------------------------------ 12. CONTINUATION

  @Test
  void headerBlockSplitOverContinuationFramesIsOneRequest() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      byte[] block = c.request("GET", "/continued", "x-one", "1", "x-two", "2");
      int a = block.length / 3, b = 2 * block.length / 3;
      c.send(HEADERS, END_STREAM, 1, Arrays.copyOfRange(block, 0, a));
      c.send(CONTINUATION, 0, 1, Arrays.copyOfRange(block, a, b));
      c.send(CONTINUATION, END_HEADERS, 1, Arrays.copyOfRange(block, b, block.length));
      Response r = c.response(1);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).startsWith("GET /continued ").contains("\nx-one: 1\n").contains("\nx-two: 2\n");
    }
  }

  @Test
  void continuationOnAnotherStreamIsAConnectionProtocolError() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      byte[] block = rawBlock(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/x");
      c.send(HEADERS, END_STREAM, 1, Arrays.copyOfRange(block, 0, 10));
      c.send(CONTINUATION, END_HEADERS, 3, Arrays.copyOfRange(block, 10, block.length));
      assertGoAwayAndClose(c, PROTOCOL_ERROR, 0);
    }
  }

  // ------------------------------------------------------------------ 13. padding

  @Test
  void paddedHeadersAndDataAreAcceptedAndThePaddingDropped() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      byte[] block = c.request("POST", "/padded", "content-length", "5");
      ByteArrayOutputStream h = new ByteArrayOutputStream();
      h.write(7);
      h.writeBytes(block);
      h.writeBytes(new byte[7]);
      c.send(HEADERS, END_HEADERS | PADDED, 1, h.toByteArray());
      ByteArrayOutputStream d = new ByteArrayOutputStream();
      d.write(20);
      d.writeBytes("hello".getBytes(StandardCharsets.US_ASCII));
      d.writeBytes(new byte[20]);
      c.send(DATA, END_STREAM | PADDED, 1, d.toByteArray());
      Response r = c.response(1);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).startsWith("POST /padded ");
      assertThat(echoedBody(r)).isEqualTo("hello");
    }
  }

  // ------------------------------------------------------------------ 14. ignored frames

  @Test
  void priorityFramesUnknownFrameTypesAndThePriorityFlagAreIgnored() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.send(PRIORITY, 0, 3, new byte[] {0, 0, 0, 0, 15}); // an idle stream
      c.send(0x20, 0, 0, new byte[] {1, 2, 3, 4});
      c.send(0x20, 0xff, 1, new byte[] {5});
      ByteArrayOutputStream h = new ByteArrayOutputStream();
      h.writeBytes(int32(0x80000000)); // exclusive, on stream 0
      h.write(200);
      h.writeBytes(c.request("GET", "/prioritized"));
      c.send(HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, 5, h.toByteArray());
      Response r = c.response(5);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).startsWith("GET /prioritized ");
      c.send(PRIORITY, 0, 5, new byte[] {0, 0, 0, 0, 15}); // a closed stream
      c.send(0x20, 0, 5, new byte[0]);
      assertServes(c, 7);
      assertThat(c.log).noneMatch(f -> f.type == RST_STREAM || f.type == GOAWAY);
    }
  }

  // ------------------------------------------------------------------ 15. trailers

  @Test
  void requestTrailersAfterDataAreAccepted() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.send(HEADERS, END_HEADERS, 1, c.request("POST", "/trailers"));
      c.send(DATA, 0, 1, "body".getBytes(StandardCharsets.US_ASCII));
      c.send(HEADERS, END_HEADERS | END_STREAM, 1, c.encode(new DefaultHttp2Headers().add("x-trailer", "t")));
      Response r = c.response(1);
      assertThat(r.reset).isEqualTo(-1);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).startsWith("POST /trailers ");
      assertThat(echoedBody(r)).isEqualTo("body");
      assertServes(c, 3);
    }
  }

  // ------------------------------------------------------------------ 16. header list size

  @Test
  void requestHeadersSlightlyOverMaxRequestHeadersKbGet431AndRstStream() throws Exception {
    try (Conn c = new Conn("small").handshake()) {
      c.get(1, "/big-headers", "x-big", "v".repeat(1000)); // about 1.2 KiB against 1 KiB
      Response r = c.response(1);
      assertThat(r.frames).as("frames: %s", c.log).hasSize(1);
      Frame h = r.frames.get(0);
      assertThat(h.type).isEqualTo(HEADERS);
      assertThat(h.has(END_STREAM)).isTrue();
      assertThat(h.headers.status().toString()).isEqualTo("431");
      Frame rst = c.readUntil(f -> f.stream == 1 || f.type == GOAWAY);
      assertThat(rst.type).isEqualTo(RST_STREAM);
      assertThat(rst.error()).isEqualTo(PROTOCOL_ERROR);
      assertThat(up.requests()).noneMatch(x -> x.startsWith("GET /big-headers"));
      assertServes(c, 3);
    }
  }

  @Test
  void requestHeadersFarOverMaxRequestHeadersKbEndTheConnection() throws Exception {
    try (Conn c = new Conn("small").handshake()) {
      c.get(1, "/big-headers", "x-big", "v".repeat(4096)); // 4 KiB against 1 KiB
      List<Frame> frames = c.collectUntil(f -> f.type == GOAWAY || f.stream == 1);
      Frame last = frames.get(frames.size() - 1);
      assertThat(last.type).as("frames: %s", c.log).isEqualTo(GOAWAY);
      assertThat(last.error()).isEqualTo(PROTOCOL_ERROR);
      assertThat(last.value()).isEqualTo(0);
      assertThat(c.readToClose()).noneMatch(f -> f.stream == 1);
    }
  }

  // ------------------------------------------------------------------ 17. client cancel

  @Test
  void clientCancelStopsDataOnThatStreamWhileOthersContinue() throws Exception {
    // Stream 1's body waits behind the connection window (65535); cancelled, none of it follows.
    try (Conn c = new Conn("h2").handshake(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20), 0)) {
      c.get(1, "/size/200000");
      int[] got = {0};
      c.readUntil(
          f -> {
            if (f.type == DATA) {
              got[0] += dataOf(f).length;
            }
            return got[0] == 65535;
          });
      c.send(RST_STREAM, 0, 1, int32(CANCEL));
      c.get(3, "/size/3000");
      c.send(WINDOW_UPDATE, 0, 0, int32(1 << 20));
      int mark = c.log.size();
      Response r3 = c.response(3);
      assertThat(r3.reset).isEqualTo(-1);
      assertThat(r3.body).isEqualTo(body(3000));
      List<Frame> after = new ArrayList<>(c.log.subList(mark, c.log.size()));
      after.addAll(c.roundTrip());
      // Nothing more on stream 1: no DATA, and no RST_STREAM answering the client's (RFC 9113 5.4.2).
      assertThat(after).filteredOn(f -> f.stream == 1).isEmpty();
      assertServes(c, 5);
    }
  }

  @Test
  void clientResetIsNeverAnsweredWithAReset() throws Exception {
    try (Conn c = new Conn("h2").handshake(Map.of(SETTINGS_INITIAL_WINDOW_SIZE, 1000), 1 << 20)) {
      // No response yet: the reset is not answered.
      c.get(1, "/delay/2000");
      c.send(RST_STREAM, 0, 1, int32(CANCEL));
      assertThat(c.roundTrip()).isEmpty();
      // DATA queued behind the stream window: dropped, and the reset is not answered either (RFC
      // 9113 5.4.2: an endpoint MUST NOT answer RST_STREAM with RST_STREAM).
      c.get(3, "/size/16384");
      int[] got = {0};
      c.readUntil(f -> f.type == DATA && f.stream == 3 && (got[0] += dataOf(f).length) == 1000);
      c.send(RST_STREAM, 0, 3, int32(CANCEL));
      assertThat(c.roundTrip()).as("frames: %s", c.log).isEmpty();
      // A WINDOW_UPDATE on the closed stream is ignored.
      c.send(WINDOW_UPDATE, 0, 3, int32(100_000));
      assertThat(c.roundTrip()).isEmpty();
      assertServes(c, 5);
    }
  }

  // ------------------------------------------------------------------ 18. max_requests_per_connection

  @Test
  void maxRequestsPerConnectionDrainsWithGoAwayNoErrorThenCloses() throws Exception {
    try (Conn c = new Conn("drain").handshake()) {
      c.get(1, "/first");
      c.get(3, "/second");
      List<Frame> frames = c.readToClose();
      List<Frame> goaways = frames.stream().filter(f -> f.type == GOAWAY).toList();
      assertThat(goaways).as("frames: %s", frames).hasSize(1);
      assertThat(goaways.get(0).error()).isEqualTo(NO_ERROR);
      assertThat(goaways.get(0).value()).isEqualTo(3);
      for (int s : new int[] {1, 3}) {
        List<Frame> own = frames.stream().filter(f -> f.stream == s).toList();
        assertThat(own.get(0).type).isEqualTo(HEADERS);
        assertThat(own.get(0).headers.status().toString()).isEqualTo("200");
        assertThat(own.get(own.size() - 1).has(END_STREAM)).isTrue();
        assertThat(own).noneMatch(f -> f.type == RST_STREAM);
      }
    }
  }

  // ------------------------------------------------------------------ 19. client GOAWAY

  @Test
  void clientGoAwayLetsTheInFlightResponseCompleteAndTheConnectionStaysOpen() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(1, "/delay/200");
      c.send(GOAWAY, 0, 0, new byte[] {0, 0, 0, 0, 0, 0, 0, 0});
      Response r = c.response(1);
      assertThat(r.reset).isEqualTo(-1);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.text()).startsWith("GET /delay/200 ");
      // The server neither answers the GOAWAY nor closes: the connection still answers PING.
      assertThat(c.roundTrip()).noneMatch(f -> f.type == GOAWAY);
    }
  }

  // ------------------------------------------------------------------ 20. HEADERS on a half-closed stream

  @Test
  void secondHeadersOnAStreamTheClientEndedIsResetStreamClosed() throws Exception {
    try (Conn c = new Conn("h2").handshake()) {
      c.get(1, "/delay/300");
      c.send(HEADERS, END_HEADERS | END_STREAM, 1, rawBlock("x-again", "1"));
      Frame f = c.readUntil(x -> x.stream == 1 || x.type == GOAWAY);
      assertThat(f.type).as("frames: %s", c.log).isEqualTo(RST_STREAM);
      assertThat(f.error()).isEqualTo(STREAM_CLOSED); // half-closed (remote): RFC 9113 5.1
      assertServes(c, 3);
      assertThat(c.roundTrip()).noneMatch(x -> x.stream == 1);
    }
  }
}
