package io.legate.http.filters.compressor;

import io.legate.compression.Compressor;
import io.legate.http.FilterState;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.EncoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.Route;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Envoy's compressor filter on one stream. The response is compressed when the filter is enabled,
 * the request accepted this filter's encoding (the choice shared by all compressor filters of the
 * chain), the length is unknown or at least {@code min_content_length}, the content type is listed,
 * and the response is not already encoded, {@code no-transform}, headers-only (HEAD, 204, 304) or
 * ETag-carrying with {@code disable_on_etag_header}. Body chunks are compressed as they pass (each
 * flushed), so nothing is aggregated.
 */
final class CompressorFilter implements HttpFilter {
  /** Filter-state key: the compressor configs of this stream's chain, in registration order. */
  static final String REGISTRY_KEY = "envoy.compression.compressor_registry";
  /** Filter-state key: the encoding chosen by the first compressor filter that looked. */
  static final String DECISION_KEY = "envoy.compression.encoding_decision";

  private static final AsciiString HEAD = AsciiString.cached("HEAD");
  private static final AsciiString ACCEPT_ENCODING_VALUE = AsciiString.cached("Accept-Encoding");

  enum HeaderStat {
    VALID,
    IDENTITY,
    WILDCARD,
    NOT_VALID
  }

  /** The encoding chosen for the response, shared by the compressor filters of a chain. */
  record Decision(String encoding, HeaderStat stat) implements FilterState.StateObject {
    @Override
    public String serializeAsString() {
      return encoding;
    }
  }

  /** The compressor filters of a chain, in order, for the choice among them. */
  record Registry(List<CompressorConfig> configs) implements FilterState.StateObject {
    @Override
    public String serializeAsString() {
      return null;
    }
  }

  private final CompressorConfig config;
  private DecoderCallbacks decoder;
  private EncoderCallbacks encoder;
  private String acceptEncoding;
  private boolean headRequest;
  private boolean responseEnabled;
  private boolean decodedHeaders;
  private Compressor requestCompressor;
  private Compressor responseCompressor;

  CompressorFilter(CompressorConfig config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
    Registry registry = (Registry) callbacks.streamInfo().filterState(REGISTRY_KEY);
    if (registry == null) {
      registry = new Registry(new ArrayList<>(2));
      callbacks.streamInfo().setFilterState(REGISTRY_KEY, registry);
    }
    registry.configs().add(config);
  }

  @Override
  public void setEncoderCallbacks(EncoderCallbacks callbacks) {
    this.encoder = callbacks;
  }

  // ------------------------------------------------------------------ request

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    decodedHeaders = true;
    CharSequence ae = headers.get(HeaderValues.ACCEPT_ENCODING);
    if (ae != null) {
      List<CharSequence> all = headers.getAll(HeaderValues.ACCEPT_ENCODING);
      acceptEncoding = all.size() == 1 ? ae.toString() : String.join(",", all);
    }
    headRequest = HEAD.contentEquals(headers.method());
    CompressorPerRouteConfig perRoute = perRoute();
    responseEnabled = config.response.enabled() && (perRoute == null || !perRoute.disabled());
    boolean removeAe =
        perRoute != null && perRoute.removeAcceptEncodingHeader() != null
            ? perRoute.removeAcceptEncodingHeader()
            : config.removeAcceptEncodingHeader;
    if (responseEnabled && removeAe) {
      headers.remove(HeaderValues.ACCEPT_ENCODING);
    }
    DirectionConfig rq = config.request;
    if (!endStream
        && rq.enabled()
        && rq.minimumContentLength(headers)
        && rq.contentTypeAllowed(headers)
        && !headers.contains(HeaderValues.CONTENT_ENCODING)
        && HeaderValues.transferEncodingAllowed(headers, config.contentEncoding)) {
      headers.remove(HeaderValues.CONTENT_LENGTH);
      headers.set(HeaderValues.CONTENT_ENCODING, config.contentEncoding);
      rq.stats().compressed().inc();
      requestCompressor = config.library.create();
    } else {
      rq.stats().notCompressed().inc();
    }
    return Status.CONTINUE;
  }

  @Override
  public Status decodeData(ByteBuf data, boolean endStream) {
    if (requestCompressor != null) {
      ByteBuf out = compress(requestCompressor, config.request, data, endStream);
      if (endStream) {
        closeRequestCompressor();
      }
      if (out != null) {
        decoder.replaceDecodingData(out);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public Status decodeTrailers(Http2Headers trailers) {
    if (requestCompressor != null) {
      ByteBuf out = compress(requestCompressor, config.request, Unpooled.EMPTY_BUFFER, true);
      closeRequestCompressor();
      if (out != null) {
        decoder.addDecodedData(out);
      }
    }
    return Status.CONTINUE;
  }

  // ------------------------------------------------------------------ response

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (!decodedHeaders) {
      // A local reply before this filter saw the request: the config's own setting applies.
      responseEnabled = config.response.enabled();
    }
    DirectionConfig rs = config.response;
    int status = statusCode(headers);
    boolean enabledAndLongEnough = responseEnabled && rs.minimumContentLength(headers);
    boolean compressible =
        enabledAndLongEnough
            && !headers.contains(HeaderValues.UPGRADE)
            && rs.contentTypeAllowed(headers)
            && !HeaderValues.noTransform(headers)
            && etagAllowed(headers)
            && !headers.contains(HeaderValues.CONTENT_ENCODING)
            && !config.uncompressibleResponseCodes.contains(status);
    if (!endStream
        && !headRequest
        && status >= 200
        && status != 204
        && status != 304
        && enabledAndLongEnough
        && acceptEncodingAllowed(headers)
        && compressible
        && HeaderValues.transferEncodingAllowed(headers, config.contentEncoding)) {
      weakenEtag(headers);
      headers.remove(HeaderValues.CONTENT_LENGTH);
      headers.set(HeaderValues.CONTENT_ENCODING, config.contentEncoding);
      rs.stats().compressed().inc();
      responseCompressor = config.library.create();
    } else {
      rs.stats().notCompressed().inc();
    }
    if (compressible) {
      // Even when this client did not accept the encoding, a cache in front must know another may.
      addVary(headers);
    }
    return Status.CONTINUE;
  }

  @Override
  public Status encodeData(ByteBuf data, boolean endStream) {
    if (responseCompressor != null) {
      ByteBuf out = compress(responseCompressor, config.response, data, endStream);
      if (endStream) {
        closeResponseCompressor();
      }
      if (out != null) {
        encoder.replaceEncodingData(out);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public Status encodeTrailers(Http2Headers trailers) {
    if (responseCompressor != null) {
      ByteBuf out = compress(responseCompressor, config.response, Unpooled.EMPTY_BUFFER, true);
      closeResponseCompressor();
      if (out != null) {
        encoder.addEncodedData(out);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public void onDestroy() {
    closeRequestCompressor();
    closeResponseCompressor();
  }

  // ------------------------------------------------------------------ helpers

  /** Compresses one chunk and counts it; null (after a stream reset) when the library failed. */
  private ByteBuf compress(Compressor c, DirectionConfig dir, ByteBuf data, boolean end) {
    dir.stats().totalUncompressedBytes().add(data.readableBytes());
    ByteBuf out;
    try {
      out = c.compress(ByteBufAllocator.DEFAULT, data, end);
    } catch (RuntimeException e) {
      decoder.resetStream();
      return null;
    }
    dir.stats().totalCompressedBytes().add(out.readableBytes());
    return out;
  }

  private void closeRequestCompressor() {
    if (requestCompressor != null) {
      requestCompressor.close();
      requestCompressor = null;
    }
  }

  private void closeResponseCompressor() {
    if (responseCompressor != null) {
      responseCompressor.close();
      responseCompressor = null;
    }
  }

  private CompressorPerRouteConfig perRoute() {
    Route route = decoder.route();
    return route != null && route.perFilterConfig(config.filterName) instanceof CompressorPerRouteConfig p ? p : null;
  }

  private static int statusCode(Http2Headers h) {
    CharSequence s = h.status();
    if (s == null) {
      return 0;
    }
    try {
      return Integer.parseInt(s.toString());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private boolean etagAllowed(Http2Headers h) {
    boolean allowed = !(config.disableOnEtagHeader && h.contains(HeaderValues.ETAG));
    if (!allowed) {
      config.notCompressedEtag.inc();
    }
    return allowed;
  }

  /** A strong ETag no longer names these bytes once they are re-encoded: make it weak. */
  private static void weakenEtag(Http2Headers h) {
    CharSequence etag = h.get(HeaderValues.ETAG);
    if (etag != null && etag.length() > 2 && !((etag.charAt(0) == 'W' || etag.charAt(0) == 'w') && etag.charAt(1) == '/')) {
      h.set(HeaderValues.ETAG, "W/" + etag);
    }
  }

  private static void addVary(Http2Headers h) {
    List<CharSequence> vary = h.getAll(HeaderValues.VARY);
    if (vary.isEmpty()) {
      h.set(HeaderValues.VARY, ACCEPT_ENCODING_VALUE);
      return;
    }
    for (CharSequence v : vary) {
      if (HeaderValues.hasToken(v, "accept-encoding") || HeaderValues.hasToken(v, "*")) {
        return;
      }
    }
    String joined = String.join(", ", vary);
    h.set(HeaderValues.VARY, joined + ", Accept-Encoding");
  }

  /**
   * Envoy's {@code isAcceptEncodingAllowed}: the first compressor filter to look chooses among all
   * the chain's enabled compressors by the client's preference; each filter then compresses only if
   * the choice is its own encoding.
   */
  private boolean acceptEncodingAllowed(Http2Headers responseHeaders) {
    if (acceptEncoding == null) {
      config.noAcceptHeader.inc();
      return false;
    }
    var info = decoder.streamInfo();
    Decision decision = (Decision) info.filterState(DECISION_KEY);
    if (decision == null || config.chooseFirst) {
      decision = choose(responseHeaders);
      if (info.filterState(DECISION_KEY) == null) {
        info.setFilterState(DECISION_KEY, decision);
      }
    }
    boolean mine = config.contentEncoding.equals(decision.encoding());
    switch (decision.stat()) {
      case VALID -> (mine ? config.headerCompressorUsed : config.headerCompressorOvershadowed).inc();
      case IDENTITY -> config.headerIdentity.inc();
      case WILDCARD -> config.headerWildcard.inc();
      default -> config.headerNotValid.inc();
    }
    return mine;
  }

  private Decision choose(Http2Headers responseHeaders) {
    // The compressors that could serve this response, with their registration order.
    Map<String, Integer> allowed = new HashMap<>();
    Registry shared = (Registry) decoder.streamInfo().filterState(REGISTRY_KEY);
    List<CompressorConfig> registry = config.chooseFirst || shared == null ? List.of(config) : shared.configs();
    int order = 0;
    for (CompressorConfig c : registry) {
      if (c.response.enabled() && c.response.contentTypeAllowed(responseHeaders)) {
        allowed.putIfAbsent(c.contentEncoding, order++);
      }
    }
    List<String> names = new ArrayList<>();
    List<Float> qs = new ArrayList<>();
    for (String token : acceptEncoding.split(",")) {
      int semi = token.indexOf(';');
      String coding = (semi < 0 ? token : token.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
      if (coding.isEmpty()) {
        continue;
      }
      float q = 1f;
      if (semi >= 0) {
        String params = token.substring(semi + 1);
        int eq = params.indexOf('=');
        if (eq >= 0 && params.substring(0, eq).trim().equalsIgnoreCase("q")) {
          try {
            q = Float.parseFloat(params.substring(eq + 1).trim());
          } catch (NumberFormatException e) {
            continue; // an unparsable q-value drops the token, as in Envoy
          }
        }
      }
      names.add(coding);
      qs.add(q);
      if (q == 0f) {
        allowed.remove(coding);
      }
    }
    if (names.isEmpty() || allowed.isEmpty()) {
      return new Decision("identity", HeaderStat.NOT_VALID);
    }
    String choice = "identity";
    float best = 0f;
    for (int i = 0; i < names.size(); i++) {
      String n = names.get(i);
      float q = qs.get(i);
      if (q > best && (allowed.containsKey(n) || n.equals("identity") || n.equals("*"))) {
        choice = n;
        best = q;
      }
    }
    if (best == 0f) {
      return new Decision("identity", HeaderStat.NOT_VALID);
    }
    if (choice.equals("identity")) {
      return new Decision("identity", HeaderStat.IDENTITY);
    }
    if (choice.equals("*")) {
      String first = null;
      int min = Integer.MAX_VALUE;
      for (var e : allowed.entrySet()) {
        if (e.getValue() < min) {
          min = e.getValue();
          first = e.getKey();
        }
      }
      return new Decision(first, HeaderStat.WILDCARD);
    }
    return new Decision(choice, HeaderStat.VALID);
  }
}
