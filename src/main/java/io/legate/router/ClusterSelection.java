package io.legate.router;

/**
 * The upstream cluster chosen for one request, with the header mutations of the chosen weighted
 * cluster (empty otherwise).
 *
 * @param clusterName the cluster, or null when cluster_header names a header the request lacks
 * @param hostRewriteLiteral the weighted cluster's host_rewrite_literal, or null
 */
public record ClusterSelection(
    String clusterName,
    HeaderMutations requestMutations,
    HeaderMutations responseMutations,
    String hostRewriteLiteral) {}
