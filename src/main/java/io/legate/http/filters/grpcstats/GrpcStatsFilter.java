package io.legate.http.filters.grpcstats;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.grpc_stats.v3.FilterObject;
import io.legate.grpc.GrpcCallStats;
import io.legate.http.LocalReplies;
import io.legate.http.StreamInfo;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.ForwardAction;
import io.legate.router.Route;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;

/**
 * Envoy's gRPC statistics filter on one stream: counts the messages of a gRPC call each way (by
 * their frame headers) and its outcome (the grpc-status of its trailers, or of a trailers-only
 * response). Passes everything through untouched.
 */
final class GrpcStatsFilter implements HttpFilter {
  static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");

  /** The per-stream counts, as filter state: PLAIN renders "<request>,<response>". */
  static final class StatsObject implements io.legate.http.FilterState.StateObject {
    long requestMessages;
    long responseMessages;

    @Override
    public Message serializeAsProto() {
      return FilterObject.newBuilder()
          .setRequestMessageCount(requestMessages)
          .setResponseMessageCount(responseMessages)
          .build();
    }

    @Override
    public String serializeAsString() {
      return requestMessages + "," + responseMessages;
    }
  }

  /** Counts gRPC frames in a byte stream that arrives in pieces. */
  static final class FrameCounter {
    private final byte[] header = new byte[5];
    private int headerBytes;
    private long payloadLeft;

    /** Returns how many frame headers end in {@code data}'s readable bytes. */
    int count(ByteBuf data) {
      int frames = 0;
      int i = data.readerIndex();
      int end = data.writerIndex();
      while (i < end) {
        if (payloadLeft > 0) {
          int skip = (int) Math.min(payloadLeft, end - i);
          payloadLeft -= skip;
          i += skip;
          continue;
        }
        header[headerBytes++] = data.getByte(i++);
        if (headerBytes == 5) {
          headerBytes = 0;
          frames++;
          payloadLeft = ((header[1] & 0xffL) << 24) | ((header[2] & 0xff) << 16) | ((header[3] & 0xff) << 8) | (header[4] & 0xff);
        }
      }
      return frames;
    }
  }

  private final GrpcStatsFilterFactory.Config config;
  private DecoderCallbacks decoder;
  private boolean tracking;
  private String service;
  private String method;
  private GrpcCallStats.Counters counters;
  private FrameCounter requestFrames;
  private FrameCounter responseFrames;
  private StatsObject state;

  GrpcStatsFilter(GrpcStatsFilterFactory.Config config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    if (!LocalReplies.isGrpc(headers)) {
      return Status.CONTINUE;
    }
    requestFrames = new FrameCounter();
    responseFrames = new FrameCounter();
    String[] sm = GrpcCallStats.serviceAndMethod(headers.path());
    if (sm == null) {
      // Not a gRPC path: counted only into the filter state.
      return Status.CONTINUE;
    }
    tracking = true;
    if (config.statsForAllMethods()) {
      service = config.replaceDots() ? sm[0].replace('.', '_') : sm[0];
      method = sm[1];
    } else if (config.allowlist() != null && config.allowlist().contains(sm[0] + "/" + sm[1])) {
      service = sm[0];
      method = sm[1];
    }
    return Status.CONTINUE;
  }

  /** Returns the call's counters in the routed cluster's scope, or null before a cluster is known. */
  private GrpcCallStats.Counters counters() {
    if (!tracking) {
      return null;
    }
    if (counters == null) {
      String cluster = decoder.streamInfo().upstreamCluster();
      if (cluster == null || cluster.isEmpty()) {
        Route r = decoder.route();
        cluster = r != null && r.action() instanceof ForwardAction fa ? fa.clusterName() : null;
      }
      if (cluster == null || cluster.isEmpty()) {
        return null;
      }
      counters = config.stats().counters(cluster, service, method);
    }
    return counters;
  }

  private StatsObject state() {
    if (state == null) {
      state = new StatsObject();
      decoder.streamInfo().setFilterState(GrpcStatsFilterFactory.NAME, state);
    }
    return state;
  }

  @Override
  public Status decodeData(ByteBuf data, boolean endStream) {
    if (requestFrames == null) {
      return Status.CONTINUE;
    }
    int n = requestFrames.count(data);
    if (n > 0) {
      if (config.emitFilterState()) {
        state().requestMessages += n;
      }
      GrpcCallStats.Counters c = counters();
      if (c != null) {
        c.requestMessages().add(n);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (requestFrames != null) {
      charge(headers.get(GRPC_STATUS));
    }
    return Status.CONTINUE;
  }

  @Override
  public Status encodeData(ByteBuf data, boolean endStream) {
    if (responseFrames == null) {
      return Status.CONTINUE;
    }
    int n = responseFrames.count(data);
    if (n > 0) {
      if (config.emitFilterState()) {
        state().responseMessages += n;
      }
      GrpcCallStats.Counters c = counters();
      if (c != null) {
        c.responseMessages().add(n);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public Status encodeTrailers(Http2Headers trailers) {
    if (requestFrames != null) {
      charge(trailers.get(GRPC_STATUS));
    }
    return Status.CONTINUE;
  }

  private void charge(CharSequence grpcStatus) {
    if (grpcStatus == null) {
      return;
    }
    GrpcCallStats.Counters c = counters();
    if (c != null) {
      c.charge(grpcStatus);
    }
  }
}
