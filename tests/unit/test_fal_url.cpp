// URL building must match fal's official client byte for byte: a wrong path is a 404 at
// best and a request to the wrong app at worst.

#include <gtest/gtest.h>

#include "lipsyncd/fal/error.hpp"
#include "lipsyncd/fal/url.hpp"

namespace lipsyncd::fal {
namespace {

TEST(FalUrl, ParsesSchemeHostPortAndTarget) {
  const Url url = parse_url("https://Queue.Fal.Run/fal-ai/sync-lipsync?x=1#frag");
  EXPECT_EQ(url.scheme, "https");
  EXPECT_EQ(url.host, "queue.fal.run");
  EXPECT_EQ(url.port, 443);
  EXPECT_EQ(url.target, "/fal-ai/sync-lipsync?x=1");
  EXPECT_EQ(url.path(), "/fal-ai/sync-lipsync");
  EXPECT_EQ(url.query(), "?x=1");
  EXPECT_EQ(url.origin(), "https://queue.fal.run");

  const Url local = parse_url("http://127.0.0.1:8080");
  EXPECT_EQ(local.port, 8080);
  EXPECT_EQ(local.target, "/");
  EXPECT_TRUE(local.is_loopback());
  EXPECT_EQ(local.host_header(), "127.0.0.1:8080");

  const Url v6 = parse_url("http://[::1]:99/a");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.host_header(), "[::1]:99");
}

TEST(FalUrl, RejectsWhatItCannotUse) {
  for (const char* bad : {"queue.fal.run", "ftp://x/y", "https://", "https://host:99999/",
                          "https://host:abc/", "https://user:pw@host/"}) {
    try {
      parse_url(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const FalError& error) {
      EXPECT_EQ(error.kind(), FalErrorKind::config) << bad;
    }
  }
}

TEST(FalUrl, ResolvesRedirectLocations) {
  const Url base = parse_url("https://cdn.example/files/a/b.mp4?sig=1");
  EXPECT_EQ(resolve_location(base, "https://other.example/x").str(), "https://other.example/x");
  EXPECT_EQ(resolve_location(base, "/y/z.mp4").str(), "https://cdn.example/y/z.mp4");
  EXPECT_EQ(resolve_location(base, "c.mp4").str(), "https://cdn.example/files/a/c.mp4");
  EXPECT_EQ(resolve_location(base, "//third.example/q").str(), "https://third.example/q");
}

TEST(FalUrl, EndpointIdsSplitLikeTheOfficialClient) {
  const EndpointId v1 = parse_endpoint_id("fal-ai/sync-lipsync");
  EXPECT_EQ(v1.owner, "fal-ai");
  EXPECT_EQ(v1.alias, "sync-lipsync");
  EXPECT_EQ(v1.path, "");
  const EndpointId v2 = parse_endpoint_id("fal-ai/sync-lipsync/v2");
  EXPECT_EQ(v2.path, "v2");
  EXPECT_EQ(v2.app(), "fal-ai/sync-lipsync");
  EXPECT_EQ(v2.full(), "fal-ai/sync-lipsync/v2");
  const EndpointId workflow = parse_endpoint_id("workflows/me/flow/run/x");
  EXPECT_EQ(workflow.app(), "workflows/me/flow");
  EXPECT_EQ(workflow.path, "run/x");
  EXPECT_THROW(parse_endpoint_id("sync-lipsync"), FalError);
}

TEST(FalUrl, QueueUrlsKeepTheSubPathOnlyForSubmit) {
  const auto v2 = parse_endpoint_id("fal-ai/sync-lipsync/v2");
  const std::string base = "https://queue.fal.run/";
  EXPECT_EQ(submit_url(base, v2), "https://queue.fal.run/fal-ai/sync-lipsync/v2");
  EXPECT_EQ(status_url(base, v2, "abc", true),
            "https://queue.fal.run/fal-ai/sync-lipsync/requests/abc/status?logs=1");
  EXPECT_EQ(status_url(base, v2, "abc", false),
            "https://queue.fal.run/fal-ai/sync-lipsync/requests/abc/status?logs=0");
  EXPECT_EQ(status_stream_url(base, v2, "abc", true),
            "https://queue.fal.run/fal-ai/sync-lipsync/requests/abc/status/stream?logs=1");
  EXPECT_EQ(result_url(base, v2, "abc"), "https://queue.fal.run/fal-ai/sync-lipsync/requests/abc");
  EXPECT_EQ(cancel_url(base, v2, "abc"),
            "https://queue.fal.run/fal-ai/sync-lipsync/requests/abc/cancel");
  const auto v1 = parse_endpoint_id("fal-ai/sync-lipsync");
  EXPECT_EQ(submit_url("http://127.0.0.1:5000", v1), "http://127.0.0.1:5000/fal-ai/sync-lipsync");
}

TEST(FalUrl, StorageUrlsMatchTheOfficialClient) {
  EXPECT_EQ(initiate_upload_url("https://rest.fal.ai", false),
            "https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3");
  EXPECT_EQ(initiate_upload_url("https://rest.fal.ai/", true),
            "https://rest.fal.ai/storage/upload/initiate-multipart?storage_type=fal-cdn-v3");
  const std::string upload = "https://up.example:8443/u/123?sig=abc&exp=9";
  EXPECT_EQ(upload_part_url(upload, 3), "https://up.example:8443/u/123/3?sig=abc&exp=9");
  EXPECT_EQ(complete_upload_url(upload), "https://up.example:8443/u/123/complete?sig=abc&exp=9");
}

TEST(FalUrl, ProxyIsUsedForHttpsUnlessNoProxyMatches) {
  ProxySettings proxy{"http://proxy.local:3128", "localhost, .internal.example,10.1.2.3,svc:8443"};
  const auto via = proxy.proxy_for(parse_url("https://queue.fal.run/x"));
  ASSERT_TRUE(via.has_value());
  EXPECT_EQ(via->host, "proxy.local");
  EXPECT_EQ(via->port, 3128);
  EXPECT_FALSE(proxy.proxy_for(parse_url("https://localhost/x")));
  EXPECT_FALSE(proxy.proxy_for(parse_url("https://a.internal.example/x")));
  EXPECT_FALSE(proxy.proxy_for(parse_url("https://internal.example/x")));
  EXPECT_TRUE(proxy.proxy_for(parse_url("https://notinternal.example/x")));
  EXPECT_FALSE(proxy.proxy_for(parse_url("https://10.1.2.3/x")));
  EXPECT_FALSE(proxy.proxy_for(parse_url("https://svc:8443/x")));
  EXPECT_TRUE(proxy.proxy_for(parse_url("https://svc:443/x")));
  // Plain HTTP (loopback only) never goes through the CONNECT proxy.
  EXPECT_FALSE(proxy.proxy_for(parse_url("http://127.0.0.1:8080/x")));
  EXPECT_FALSE((ProxySettings{"proxy:1", "*"}.proxy_for(parse_url("https://queue.fal.run/"))));
  EXPECT_FALSE((ProxySettings{"", ""}.proxy_for(parse_url("https://queue.fal.run/"))));
  // A proxy given without a scheme is an http:// proxy.
  EXPECT_EQ((ProxySettings{"proxy:1", ""}.proxy_for(parse_url("https://q/"))->port), 1);
}

}  // namespace
}  // namespace lipsyncd::fal
