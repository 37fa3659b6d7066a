// /metrics and /healthz over real HTTP on 127.0.0.1: the scrape parses as Prometheus text,
// health follows the daemon's callback, and only loopback addresses are accepted.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/observe/daemon_metrics.hpp"
#include "lipsyncd/observe/metrics_server.hpp"

namespace lipsyncd::observe {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// The server runs on its own io_context thread, as it would inside the daemon.
class RunningServer {
 public:
  RunningServer(const MetricsRegistry& registry, HealthCheck health)
      : work_(asio::make_work_guard(io_)), server_(io_, registry, std::move(health)) {
    server_.start("127.0.0.1:0");
    thread_ = std::thread([this] { io_.run(); });
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  ~RunningServer() {
    server_.stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  MetricsServer& server() { return server_; }
  std::uint16_t port() const { return server_.port(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  MetricsServer server_;
  std::thread thread_;
};

http::response<http::string_body> request(std::uint16_t port, http::verb method,
                                          const std::string& target) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(5));
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response;
}

http::response<http::string_body> get(std::uint16_t port, const std::string& target) {
  return request(port, http::verb::get, target);
}

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// A strict reader of the text exposition format: every line is a comment (HELP/TYPE) or a
// sample, every sample belongs to the family announced just before it.
std::vector<Sample> parse_exposition(const std::string& text) {
  static const std::regex sample_line(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+0-9.eE]+|\+Inf|-Inf|NaN)$)");
  static const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?)re");
  static const std::regex type_line(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  std::vector<Sample> samples;
  std::string family;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (std::regex_match(line, match, type_line)) {
      family = match[1];
      continue;
    }
    if (!std::regex_match(line, match, sample_line)) {
      ADD_FAILURE() << "not a Prometheus text line: " << line;
      continue;
    }
    Sample sample;
    sample.name = match[1];
    EXPECT_EQ(sample.name.rfind(family, 0), 0u) << sample.name << " outside its family " << family;
    const std::string labels = match[3];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label);
         it != std::sregex_iterator(); ++it) {
      sample.labels[(*it)[1]] = (*it)[2];
    }
    const std::string value = match[4];
    sample.value = value == "+Inf" ? HUGE_VAL : std::stod(value);
    samples.push_back(std::move(sample));
  }
  return samples;
}

const Sample* find(const std::vector<Sample>& samples, const std::string& name,
                   const std::map<std::string, std::string>& labels = {}) {
  for (const auto& sample : samples) {
    if (sample.name == name && sample.labels == labels) return &sample;
  }
  return nullptr;
}

TEST(ObserveMetricsServer, ScrapeParsesAndShowsCurrentValues) {
  MetricsRegistry registry;
  DaemonMetrics metrics(registry);
  RunningServer running(registry, [] { return HealthStatus{true, "fine"}; });
  ASSERT_NE(running.port(), 0);

  metrics.fal_responses.with({"submit", "200"}).inc();
  metrics.uploaded_bytes.inc(5'000'000);
  metrics.jobs.with({"uploaded"}).set(3);
  metrics.stage_duration.with({"upload"}).observe(1.5);

  const auto first = get(running.port(), "/metrics");
  EXPECT_EQ(first.result(), http::status::ok);
  EXPECT_NE(std::string(first[http::field::content_type]).find("version=0.0.4"), std::string::npos);
  auto samples = parse_exposition(first.body());
  ASSERT_NE(find(samples, "lipsyncd_fal_http_responses_total",
                 {{"operation", "submit"}, {"code", "200"}}),
            nullptr)
      << first.body();
  EXPECT_EQ(find(samples, "lipsyncd_uploaded_bytes_total")->value, 5'000'000);
  EXPECT_EQ(find(samples, "lipsyncd_jobs", {{"state", "uploaded"}})->value, 3);
  EXPECT_EQ(find(samples, "lipsyncd_stage_duration_seconds_count", {{"stage", "upload"}})->value,
            1);
  EXPECT_EQ(
      find(samples, "lipsyncd_stage_duration_seconds_bucket", {{"stage", "upload"}, {"le", "2.5"}})
          ->value,
      1);

  metrics.uploaded_bytes.inc(1);
  samples = parse_exposition(get(running.port(), "/metrics?ignored=1").body());
  EXPECT_EQ(find(samples, "lipsyncd_uploaded_bytes_total")->value, 5'000'001);
}

TEST(ObserveMetricsServer, HealthFollowsTheDaemonsCallback) {
  MetricsRegistry registry;
  std::atomic<bool> healthy{true};
  RunningServer running(registry, [&healthy] {
    if (healthy) return HealthStatus{true, "watcher live, store writable"};
    return HealthStatus{false, "store not writable: disk full"};
  });
  auto response = get(running.port(), "/healthz");
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response.body(), "ok: watcher live, store writable\n");
  healthy = false;
  response = get(running.port(), "/healthz");
  EXPECT_EQ(response.result(), http::status::service_unavailable);
  EXPECT_EQ(response.body(), "unhealthy: store not writable: disk full\n");
}

TEST(ObserveMetricsServer, AThrowingHealthCheckIsUnhealthyNotACrash) {
  MetricsRegistry registry;
  RunningServer running(registry, []() -> HealthStatus { throw std::runtime_error("boom"); });
  const auto response = get(running.port(), "/healthz");
  EXPECT_EQ(response.result(), http::status::service_unavailable);
  EXPECT_NE(response.body().find("boom"), std::string::npos);
  EXPECT_EQ(get(running.port(), "/metrics").result(), http::status::ok);
}

TEST(ObserveMetricsServer, OtherPathsAndMethodsAreRefused) {
  MetricsRegistry registry;
  RunningServer running(registry, [] { return HealthStatus{true, ""}; });
  EXPECT_EQ(get(running.port(), "/").result(), http::status::not_found);
  EXPECT_EQ(get(running.port(), "/metrics/../etc").result(), http::status::not_found);
  const auto post = request(running.port(), http::verb::post, "/metrics");
  EXPECT_EQ(post.result(), http::status::method_not_allowed);
  EXPECT_EQ(post[http::field::allow], "GET, HEAD");
}

TEST(ObserveMetricsServer, KeepAliveServesSeveralScrapesOnOneConnection) {
  MetricsRegistry registry;
  registry.counter("lipsyncd_k_total", "K.").with({}).inc(7);
  RunningServer running(registry, [] { return HealthStatus{true, ""}; });
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(5));
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), running.port()));
  beast::flat_buffer buffer;
  for (int i = 0; i < 3; ++i) {
    http::request<http::string_body> req(http::verb::get, "/metrics", 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(stream, req);
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    EXPECT_EQ(response.result(), http::status::ok);
    EXPECT_NE(response.body().find("lipsyncd_k_total 7"), std::string::npos);
  }
}

TEST(ObserveMetricsServer, StopClosesTheListener) {
  MetricsRegistry registry;
  RunningServer running(registry, [] { return HealthStatus{true, ""}; });
  const auto port = running.port();
  EXPECT_EQ(get(port, "/healthz").result(), http::status::ok);
  running.server().stop();
  EXPECT_EQ(running.server().port(), 0);
  bool refused = false;
  for (int attempt = 0; attempt < 50 && !refused; ++attempt) {
    try {
      (void)get(port, "/healthz");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } catch (const boost::system::system_error&) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << "still serving after stop()";
}

TEST(ObserveMetricsServer, APortInUseIsATransientError) {
  MetricsRegistry registry;
  RunningServer running(registry, [] { return HealthStatus{true, ""}; });
  asio::io_context io;
  MetricsServer second(io, registry, [] { return HealthStatus{true, ""}; });
  try {
    second.start("127.0.0.1:" + std::to_string(running.port()));
    FAIL() << "two servers bound one port";
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), "metrics_listen_failed");
    EXPECT_TRUE(e.is_transient());
  }
}

TEST(ObserveMetricsServer, ListenAddressesMustBeLoopback) {
  EXPECT_EQ(parse_listen_address("127.0.0.1:9464").host, "127.0.0.1");
  EXPECT_EQ(parse_listen_address("127.0.0.1:9464").port, 9464);
  EXPECT_EQ(parse_listen_address("[::1]:9").host, "::1");
  EXPECT_EQ(parse_listen_address("localhost:0").host, "127.0.0.1");
  for (const auto* bad : {"0.0.0.0:9464", "192.168.1.5:9464", "[::]:9464", "example.com:80",
                          "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:9x", "[::1]9"}) {
    try {
      parse_listen_address(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.reason_code(), "bad_config") << bad;
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace lipsyncd::observe
