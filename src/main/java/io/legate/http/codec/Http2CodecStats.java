package io.legate.http.codec;

import io.legate.stats.Counter;
import io.legate.stats.StatsStore;

/**
 * The downstream HTTP/2 codec's process-wide stats, under Envoy's names ({@code http2.*}).
 *
 * @param inboundEmptyFramesFlood connections closed for too many consecutive frames with an empty
 *     payload ({@code max_consecutive_inbound_frames_with_empty_payload})
 * @param outboundControlFlood connections closed because the peer does not read its control frames
 *     (PING/SETTINGS acks, RST_STREAM) beyond {@code max_outbound_control_frames}
 * @param outboundFlood connections closed because more than {@code max_outbound_frames} frames
 *     were waiting for the peer to read them
 * @param inboundPriorityFramesFlood connections closed for too many PRIORITY frames ({@code
 *     max_inbound_priority_frames_per_stream})
 * @param inboundWindowUpdateFramesFlood connections closed for too many WINDOW_UPDATE frames ({@code
 *     max_inbound_window_update_frames_per_data_frame_sent})
 * @param rxReset streams reset by the peer
 * @param txReset streams reset by Legate
 */
public record Http2CodecStats(
    Counter inboundEmptyFramesFlood,
    Counter outboundControlFlood,
    Counter outboundFlood,
    Counter inboundPriorityFramesFlood,
    Counter inboundWindowUpdateFramesFlood,
    Counter rxReset,
    Counter txReset) {
  /** Returns the stats in {@code stats} (the same counters for every HTTP connection manager). */
  public static Http2CodecStats of(StatsStore stats) {
    return new Http2CodecStats(
        stats.counter("http2.inbound_empty_frames_flood"),
        stats.counter("http2.outbound_control_flood"),
        stats.counter("http2.outbound_flood"),
        stats.counter("http2.inbound_priority_frames_flood"),
        stats.counter("http2.inbound_window_update_frames_flood"),
        stats.counter("http2.rx_reset"),
        stats.counter("http2.tx_reset"));
  }
}
