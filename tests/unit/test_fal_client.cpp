// The fal client against a scripted in-test HTTP(S) server: what it sends, how it retries,
// what it refuses to retry, streaming uploads and downloads, TLS verification, keep-alive.
// End-to-end runs against the real emulator live in tests/e2e/e2e_submit*.cpp.

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "lipsyncd/fal/client.hpp"
#include "test_media.hpp"
#include "tls_certs.hpp"

namespace lipsyncd::fal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr const char* kKey = "secret-key-do-not-log-4711";

struct Recorded {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int connection = 0;
  bool has(const std::string& name) const { return headers.count(name) != 0; }
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct Reply {
  enum class Action { respond, close, hang };
  int status = 200;
  std::string body = "{}";
  std::vector<std::pair<std::string, std::string>> headers = {};
  Action action = Action::respond;
  std::string content_type = "application/json";
};

Reply json_reply(int status, const std::string& body) {
  return Reply{status, body};
}

// A scripted HTTP/1.1 server on 127.0.0.1 (optionally TLS) on its own thread. Every request
// is recorded; the handler decides the reply (or to drop the connection, or to hang).
class ScriptedServer {
 public:
  using Handler = std::function<Reply(const Recorded&)>;

  explicit ScriptedServer(Handler handler, asio::ssl::context* tls = nullptr)
      : handler_(std::move(handler)),
        tls_(tls),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScriptedServer() {
    io_.stop();
    thread_.join();
  }

  std::string url(const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_);
  }
  std::vector<Recorded> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int connections() const { return connections_; }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      const int id = ++connections_;
      if (tls_) {
        asio::co_spawn(io_, serve_tls(std::move(socket), id), asio::detached);
      } else {
        asio::co_spawn(io_, serve(beast::tcp_stream(std::move(socket)), id), asio::detached);
      }
    }
  }

  asio::awaitable<void> serve_tls(tcp::socket socket, int id) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls_);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // the client refused our certificate
    co_await serve(std::move(stream), id);
  }

  template <typename Stream>
  asio::awaitable<void> serve(Stream stream, int id) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1ull << 30);
      auto [ec, n] =
          co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      const auto& request = parser.get();
      Recorded recorded{std::string(request.method_string()),
                        std::string(request.target()),
                        {},
                        request.body(),
                        id};
      for (const auto& field : request) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        recorded.headers[name] = std::string(field.value());
      }
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(recorded);
      }
      const Reply reply = handler_(recorded);
      if (reply.action == Reply::Action::close) co_return;
      if (reply.action == Reply::Action::hang) {
        asio::steady_timer timer(io_, 1h);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return;
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      response.set(http::field::content_type, reply.content_type);
      response.set("x-fal-request-id", "req-" + std::to_string(id));
      for (const auto& [name, value] : reply.headers) response.set(name, value);
      response.body() = reply.body;
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      auto [write_error, written] =
          co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
      if (write_error || !request.keep_alive()) co_return;
    }
  }

  Handler handler_;
  asio::ssl::context* tls_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Recorded> requests_;
  std::atomic<int> connections_{0};
};

FalConfig config_for(const std::string& base) {
  FalConfig config;
  config.queue_url = base;
  config.rest_url = base;
  config.endpoint = "fal-ai/sync-lipsync";
  config.credentials = kKey;
  config.connect_timeout_s = 2;
  config.io_timeout_s = 2;
  config.total_timeout_s = 20;
  config.poll_interval_ms = 5;
  config.max_poll_interval_ms = 20;
  return config;
}

// The client's time, advanced only by the client's own waits: retry backoff, Retry-After and
// status polls keep their real lengths but take no real time, and each wait is recorded. The
// io_context and the sockets stay real (and so do the transport's connect and I/O timeouts).
class ManualClock : public Clock {
 public:
  time_point now() const override { return now_; }
  asio::awaitable<void> sleep(std::chrono::milliseconds delay) override {
    waits_.push_back(delay);
    now_ += delay;
    co_return;
  }
  const std::vector<std::chrono::milliseconds>& waits() const { return waits_; }
  std::chrono::milliseconds waited() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now_ - time_point{});
  }

 private:
  time_point now_{};
  std::vector<std::chrono::milliseconds> waits_;
};

ClientOptions fast_options(std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>()) {
  ClientOptions options;
  options.clock = std::move(clock);
  options.proxy = ProxySettings{};  // the test machine's proxy variables must not interfere
  return options;
}

// Runs one coroutine to completion on a fresh io_context and returns its value.
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> value;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T v) {
    failure = e;
    if (!e) value = std::move(v);
  });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*value);
}

void run(asio::io_context& io, asio::awaitable<void> task) {
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) { failure = e; });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
}

template <typename F>
FalError expect_fal_error(F&& action) {
  try {
    action();
  } catch (const FalError& error) {
    return error;
  }
  ADD_FAILURE() << "no FalError was thrown";
  return FalError({FalErrorKind::config, 0, {}, {}}, "none");
}

struct CountingObserver : ClientObserver {
  std::size_t sent = 0, received = 0;
  std::map<int, int> responses;
  int retries = 0;
  void on_bytes_sent(std::size_t bytes) override { sent += bytes; }
  void on_bytes_received(std::size_t bytes) override { received += bytes; }
  void on_response(std::string_view, int status) override { ++responses[status]; }
  void on_retry(std::string_view, const FalError&, std::chrono::milliseconds) override {
    ++retries;
  }
};

const char* kSubmitted =
    R"({"request_id":"r-1","status":"IN_QUEUE","queue_position":3,)"
    R"("status_url":"x/requests/r-1/status","response_url":"x/requests/r-1","cancel_url":"x/requests/r-1/cancel"})";

LipsyncInput sample_input() {
  return {"https://cdn/v.mp4", "https://cdn/a.wav", "lipsync-1.9.0-beta", "cut_off"};
}

TEST(FalClient, SubmitSendsWhatTheOfficialClientSends) {
  ScriptedServer server([](const Recorded&) { return json_reply(200, kSubmitted); });
  asio::io_context io;
  auto config = config_for(server.url());
  config.endpoint = "fal-ai/sync-lipsync/v2";
  Client client(io.get_executor(), config, fast_options());
  const Submission submission = run(io, client.submit(sample_input()));
  EXPECT_EQ(submission.request_id, "r-1");
  EXPECT_EQ(submission.queue_position, 3);
  EXPECT_EQ(submission.cancel_url, "x/requests/r-1/cancel");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/fal-ai/sync-lipsync/v2");
  EXPECT_EQ(r.header("authorization"), std::string("Key ") + kKey);
  EXPECT_EQ(r.header("accept"), "application/json");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("x-fal-queue-priority"), "normal");
  EXPECT_EQ(r.header("user-agent").rfind("lipsyncd/", 0), 0u);
  const auto body = json::parse(r.body).as_object();
  EXPECT_EQ(body.at("video_url"), "https://cdn/v.mp4");
  EXPECT_EQ(body.at("audio_url"), "https://cdn/a.wav");
  EXPECT_EQ(body.at("model"), "lipsync-1.9.0-beta");
  EXPECT_EQ(body.at("sync_mode"), "cut_off");
}

TEST(FalClient, StatusResultAndCancelDropTheSubPath) {
  ScriptedServer server([](const Recorded& r) {
    if (r.target.find("/status") != std::string::npos) {
      return json_reply(
          200,
          R"({"status":"IN_PROGRESS","logs":[{"message":"hi","level":"INFO","timestamp":"t"}]})");
    }
    if (r.method == "PUT") return json_reply(202, R"({"status":"CANCELLATION_REQUESTED"})");
    return json_reply(
        200,
        R"({"video":{"url":"https://cdn/out.mp4","content_type":"video/mp4","file_name":"out.mp4","file_size":1234}})");
  });
  asio::io_context io;
  auto config = config_for(server.url());
  config.endpoint = "fal-ai/sync-lipsync/v2";
  Client client(io.get_executor(), config, fast_options());
  const QueueStatus status = run(io, client.status("r-9", true));
  EXPECT_EQ(status.state, QueueState::in_progress);
  ASSERT_EQ(status.logs.size(), 1u);
  EXPECT_EQ(status.logs[0].message, "hi");
  const LipsyncOutput output = run(io, client.result("r-9"));
  EXPECT_EQ(output.video_url, "https://cdn/out.mp4");
  EXPECT_EQ(output.file_size, 1234u);
  // 202 while the status says IN_PROGRESS: requested, and it may still be billed.
  EXPECT_EQ(run(io, client.cancel("r-9")), CancelOutcome::requested_while_running);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/fal-ai/sync-lipsync/requests/r-9/status?logs=1");
  EXPECT_EQ(requests[1].target, "/fal-ai/sync-lipsync/requests/r-9");
  EXPECT_EQ(requests[2].method, "PUT");
  EXPECT_EQ(requests[2].target, "/fal-ai/sync-lipsync/requests/r-9/cancel");
  EXPECT_EQ(requests[3].target, "/fal-ai/sync-lipsync/requests/r-9/status?logs=0");
  for (const auto& r : requests) EXPECT_EQ(r.header("authorization"), std::string("Key ") + kKey);
  // Keep-alive: one connection for all of them.
  EXPECT_EQ(server.connections(), 1);
}

TEST(FalClient, UsesTheUrlsTheSubmitReturnedWhenTheyAreOnTheQueueHost) {
  std::string base;
  ScriptedServer server([&](const Recorded& r) {
    if (r.method == "POST" && r.target == "/fal-ai/sync-lipsync/v2") {
      return json_reply(200, R"({"request_id":"r-1","status":"IN_QUEUE","queue_position":0,)"
                             R"("status_url":")" +
                                 base +
                                 R"(/q/requests/r-1/status",)"
                                 R"("response_url":")" +
                                 base +
                                 R"(/q/requests/r-1/response",)"
                                 R"("cancel_url":")" +
                                 base + R"(/q/requests/r-1/cancel"})");
    }
    if (r.method == "POST") {  // another request whose URLs point elsewhere: not followed
      return json_reply(200, R"({"request_id":"r-2","status":"IN_QUEUE",)"
                             R"("status_url":"https://elsewhere.example/r-2/status",)"
                             R"("response_url":"https://elsewhere.example/r-2",)"
                             R"("cancel_url":"https://elsewhere.example/r-2/cancel"})");
    }
    if (r.target.find("/status") != std::string::npos) {
      return json_reply(200, R"({"status":"COMPLETED","logs":null})");
    }
    if (r.method == "PUT") return json_reply(400, R"({"status":"ALREADY_COMPLETED"})");
    return json_reply(200, R"({"video":{"url":"https://cdn/out.mp4"}})");
  });
  base = server.url();
  asio::io_context io;
  auto config = config_for(server.url());
  config.endpoint = "fal-ai/sync-lipsync/v2";
  Client client(io.get_executor(), config, fast_options());
  run(io, client.submit(sample_input()));
  run(io, client.status("r-1", true));
  run(io, client.result("r-1"));
  EXPECT_EQ(run(io, client.cancel("r-1")), CancelOutcome::already_completed);
  config.endpoint = "fal-ai/sync-lipsync";
  Client other(io.get_executor(), config, fast_options());
  run(io, other.submit(sample_input()));
  run(io, other.status("r-2", false));

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_EQ(requests[1].target, "/q/requests/r-1/status?logs=1");
  EXPECT_EQ(requests[2].target, "/q/requests/r-1/response");
  EXPECT_EQ(requests[3].target, "/q/requests/r-1/cancel");
  // The key is never sent to a host other than the configured one: fall back to fal's form.
  EXPECT_EQ(requests[5].target, "/fal-ai/sync-lipsync/requests/r-2/status?logs=0");
}

TEST(FalClient, CancelSaysWhichOfFalsCasesHappened) {
  ScriptedServer server([](const Recorded& r) {
    if (r.target.find("/queued/") != std::string::npos ||
        r.target.find("r-q") != std::string::npos) {
      if (r.method == "PUT") return json_reply(202, R"({"status":"CANCELLATION_REQUESTED"})");
      return json_reply(200, R"({"status":"COMPLETED","logs":null,"error":"Request cancelled",)"
                             R"("error_type":"client_cancelled"})");
    }
    if (r.target.find("r-done") != std::string::npos) {
      return json_reply(400, R"({"status":"ALREADY_COMPLETED"})");
    }
    return json_reply(404, R"({"status":"NOT_FOUND"})");
  });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  EXPECT_EQ(run(io, client.cancel("r-q")), CancelOutcome::cancelled_before_run);
  EXPECT_EQ(run(io, client.cancel("r-done")), CancelOutcome::already_completed);
  EXPECT_EQ(run(io, client.cancel("r-unknown")), CancelOutcome::not_found);
  EXPECT_EQ(describe(CancelOutcome::cancelled_before_run),
            "cancelled before it ran (nothing billed)");
  EXPECT_NE(describe(CancelOutcome::requested_while_running).find("may still"),
            std::string_view::npos);
}

// fal-protocol.md §6.4 for the answers fal's queue and ingress give.
TEST(FalClient, ClassifiesFalsAnswersAsTheProtocolSays) {
  struct Case {
    Reply reply;
    FalErrorKind kind;
    std::size_t requests;  // 1: final, not retried; 4: the status policy's retries ran out
  };
  const std::vector<Case> cases = {
      {Reply{429, R"({"detail":"limit"})", {{"X-Fal-Needs-Retry", "1"}}},
       FalErrorKind::http_transient, 6},
      {Reply{502, "<html><center>nginx</center></html>", {}, Reply::Action::respond, "text/html"},
       FalErrorKind::http_transient, 6},
      {Reply{403, R"({"detail":"not allowed"})"}, FalErrorKind::forbidden, 1},
      {Reply{504, R"({"detail":"Request timed out"})", {{"x-fal-request-timeout-type", "user"}}},
       FalErrorKind::http_final, 1},
  };
  for (const auto& c : cases) {
    ScriptedServer server([&](const Recorded&) { return c.reply; });
    asio::io_context io;
    Client client(io.get_executor(), config_for(server.url()), fast_options());
    const FalError error = expect_fal_error([&] { run(io, client.status("r", false)); });
    EXPECT_EQ(error.kind(), c.kind) << c.reply.status << ": " << error.what();
    EXPECT_EQ(server.requests().size(), c.requests) << c.reply.status;
    if (c.reply.status == 403) {
      EXPECT_EQ(error.reason_code(), "fal_forbidden");
    }
  }
}

TEST(FalClient, SubmitRetriesServiceUnavailableThenSucceeds) {
  std::atomic<int> calls{0};
  ScriptedServer server([&](const Recorded&) {
    return ++calls <= 2 ? json_reply(503, R"({"detail":"overloaded"})")
                        : json_reply(200, kSubmitted);
  });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  auto observer = std::make_shared<CountingObserver>();
  client.set_observer(observer);
  EXPECT_EQ(run(io, client.submit(sample_input())).request_id, "r-1");
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(observer->retries, 2);
  EXPECT_EQ(observer->responses[503], 2);
  EXPECT_EQ(observer->responses[200], 1);
  EXPECT_GT(observer->sent, 0u);
  EXPECT_GT(observer->received, 0u);
}

TEST(FalClient, WaitsForRetryAfterOnTooManyRequests) {
  std::atomic<int> calls{0};
  ScriptedServer server([&](const Recorded&) {
    if (++calls == 1) {
      Reply reply = json_reply(429, R"({"detail":"slow down"})");
      reply.headers = {{"Retry-After", "2"}};
      return reply;
    }
    return json_reply(200, R"({"status":"IN_QUEUE","queue_position":0})");
  });
  asio::io_context io;
  auto clock = std::make_shared<ManualClock>();
  Client client(io.get_executor(), config_for(server.url()), fast_options(clock));
  run(io, client.status("r-1", false));
  EXPECT_EQ(server.requests().size(), 2u);
  // The backoff alone would be 1 s ± 25 %: Retry-After's 2 s win.
  EXPECT_EQ(clock->waits(), std::vector<std::chrono::milliseconds>{2000ms})
      << "Retry-After was not honoured";
}

TEST(FalClient, ARetryAfterBeyondFiveMinutesIsNotWaitedFor) {
  ScriptedServer server([&](const Recorded&) {
    Reply reply = json_reply(429, R"({"detail":"slow down"})");
    reply.headers = {{"Retry-After", "301"}};
    return reply;
  });
  asio::io_context io;
  auto clock = std::make_shared<ManualClock>();
  Client client(io.get_executor(), config_for(server.url()), fast_options(clock));
  const FalError error = expect_fal_error([&] { run(io, client.status("r-1", false)); });
  EXPECT_EQ(error.kind(), FalErrorKind::http_transient);
  EXPECT_EQ(error.retry_after(), 301000ms);
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_TRUE(clock->waits().empty()) << "the client slept instead of handing the wait back";
}

TEST(FalClient, ValidationErrorIsFinalAndNamesTheField) {
  ScriptedServer server([](const Recorded&) {
    return json_reply(
        422,
        R"({"detail":[{"loc":["body","video_url"],"msg":"field required","type":"value_error.missing"}]})");
  });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  const FalError error = expect_fal_error([&] { run(io, client.submit(sample_input())); });
  EXPECT_EQ(error.kind(), FalErrorKind::http_final);
  EXPECT_EQ(error.http_status(), 422);
  EXPECT_NE(std::string(error.what()).find("video_url: field required"), std::string::npos)
      << error.what();
  EXPECT_FALSE(error.is_transient());
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(FalClient, UnauthorizedIsFinalAndPointsAtTheKey) {
  ScriptedServer server(
      [](const Recorded&) { return json_reply(401, R"({"detail":"Invalid key"})"); });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  const FalError error = expect_fal_error([&] { run(io, client.status("r", true)); });
  EXPECT_EQ(error.kind(), FalErrorKind::auth);
  EXPECT_EQ(error.reason_code(), "fal_auth");
  EXPECT_NE(error.hint().find("FAL_KEY"), std::string::npos);
  EXPECT_EQ(std::string(error.what()).find(kKey), std::string::npos);
  EXPECT_EQ(error.hint().find(kKey), std::string::npos);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(FalClient, AmbiguousSubmitIsNeverResent) {
  // fal read the whole submission, then the connection dropped: it may have been accepted.
  ScriptedServer server([](const Recorded&) { return Reply{.action = Reply::Action::close}; });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  const FalError error = expect_fal_error([&] { run(io, client.submit(sample_input())); });
  EXPECT_EQ(error.kind(), FalErrorKind::ambiguous_submit);
  EXPECT_FALSE(error.is_transient());
  EXPECT_EQ(server.requests().size(), 1u) << "the submission was resent";
}

TEST(FalClient, ReadOnlyCallsAreRetriedWhenTheConnectionDrops) {
  std::atomic<int> calls{0};
  ScriptedServer server([&](const Recorded&) {
    if (++calls == 1) return Reply{.action = Reply::Action::close};
    return json_reply(200, R"({"status":"COMPLETED"})");
  });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  EXPECT_EQ(run(io, client.status("r", false)).state, QueueState::completed);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(FalClient, RefusedConnectionIsANetworkErrorRetriedThenReported) {
  std::string dead_url;
  {
    ScriptedServer gone([](const Recorded&) { return json_reply(200, "{}"); });
    dead_url = gone.url();
  }
  asio::io_context io;
  auto clock = std::make_shared<ManualClock>();
  Client client(io.get_executor(), config_for(dead_url), fast_options(clock));
  auto observer = std::make_shared<CountingObserver>();
  client.set_observer(observer);
  const FalError error = expect_fal_error([&] { run(io, client.submit(sample_input())); });
  // Nothing reached fal, so a submit is safely retried (3 times, like the official client).
  EXPECT_EQ(error.kind(), FalErrorKind::network) << error.what();
  EXPECT_TRUE(error.is_transient());
  EXPECT_EQ(observer->retries, 3);
  // Exponential backoff from 1 s with ±25 % jitter.
  ASSERT_EQ(clock->waits().size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto base = 1000ms * (1 << i);
    EXPECT_GE(clock->waits()[i], base * 3 / 4) << i;
    EXPECT_LE(clock->waits()[i], base * 5 / 4) << i;
  }
}

TEST(FalClient, SlowServerTimesOut) {
  ScriptedServer server([](const Recorded&) { return Reply{.action = Reply::Action::hang}; });
  asio::io_context io;
  auto config = config_for(server.url());
  config.io_timeout_s = 0.2;
  Client client(io.get_executor(), config, fast_options());
  const auto started = std::chrono::steady_clock::now();
  const FalError error = expect_fal_error([&] { run(io, client.cancel("r")); });
  EXPECT_EQ(error.kind(), FalErrorKind::timeout) << error.what();
  EXPECT_EQ(server.requests().size(), 4u);  // first try + 3 retries
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(FalClient, ServerErrorOnResultIsTheAppFailingWithFalsMessage) {
  ScriptedServer server([](const Recorded&) {
    return json_reply(500, R"({"detail":"No face detected in the video"})");
  });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  const FalError error = expect_fal_error([&] { run(io, client.result("r")); });
  EXPECT_EQ(error.kind(), FalErrorKind::app_failure);
  EXPECT_NE(std::string(error.what()).find("No face detected in the video"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(FalClient, PlainHttpIsRefusedForRemoteHosts) {
  asio::io_context io;
  const FalError error = expect_fal_error([&] {
    Client client(io.get_executor(), config_for("http://queue.fal.run"), fast_options());
  });
  EXPECT_EQ(error.kind(), FalErrorKind::config);
}

std::string random_bytes(std::size_t size) {
  std::mt19937 random(42);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(random());
  return data;
}

TEST(FalClient, UploadStreamsTheFileWithItsRealTypeAndNoKey) {
  test::TempDir dir;
  std::string data = std::string("RIFF\x24\0\0\0WAVEfmt ", 16) + random_bytes(300000);
  std::ofstream(dir / "voice.bin", std::ios::binary) << data;
  std::string upload_url;
  ScriptedServer* self = nullptr;
  ScriptedServer server([&](const Recorded& r) {
    if (r.target.rfind("/storage/upload/initiate", 0) == 0) {
      return json_reply(200, json::serialize(json::object{
                                 {"upload_url", self->url() + "/put/abc?sig=1"},
                                 {"file_url", "https://cdn.example/files/abc/voice.bin"}}));
    }
    return json_reply(200, "{}");
  });
  self = &server;
  asio::io_context io;
  ClientOptions options = fast_options();
  options.io_buffer_size = 64 * 1024;  // several chunks
  Client client(io.get_executor(), config_for(server.url()), options);
  EXPECT_EQ(run(io, client.upload(dir / "voice.bin")), "https://cdn.example/files/abc/voice.bin");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/storage/upload/initiate?storage_type=fal-cdn-v3");
  EXPECT_EQ(requests[0].header("authorization"), std::string("Key ") + kKey);
  const auto announce = json::parse(requests[0].body).as_object();
  EXPECT_EQ(announce.at("content_type"), "audio/wav");
  EXPECT_EQ(announce.at("file_name"), "voice.bin");
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(requests[1].target, "/put/abc?sig=1");
  EXPECT_EQ(requests[1].header("content-type"), "audio/wav");
  EXPECT_FALSE(requests[1].has("authorization")) << "the key went to the signed upload URL";
  EXPECT_TRUE(requests[1].body == data) << "uploaded bytes differ";
}

TEST(FalClient, LargeFilesGoMultipartWithPerPartRetry) {
  test::TempDir dir;
  const std::string data = random_bytes(2500);
  std::ofstream(dir / "clip.mp4", std::ios::binary) << data;
  std::atomic<int> part2_attempts{0};
  ScriptedServer* self = nullptr;
  ScriptedServer server([&](const Recorded& r) {
    if (r.target.rfind("/storage/upload/initiate-multipart", 0) == 0) {
      return json_reply(200, json::serialize(json::object{
                                 {"upload_url", self->url() + "/mp/xyz?token=t"},
                                 {"file_url", "https://cdn.example/files/xyz/clip.mp4"}}));
    }
    if (r.method == "PUT") {
      const std::string number = r.target.substr(8, r.target.find('?') - 8);  // "/mp/xyz/N?..."
      if (number == "2" && ++part2_attempts == 1) return Reply{.action = Reply::Action::close};
      return json_reply(200, R"({"partNumber":)" + number + R"(,"etag":"e)" + number + R"("})");
    }
    return json_reply(200, "{}");
  });
  self = &server;
  asio::io_context io;
  ClientOptions options = fast_options();
  options.multipart_threshold = 1000;
  options.part_size = 1000;
  Client client(io.get_executor(), config_for(server.url()), options);
  EXPECT_EQ(run(io, client.upload(dir / "clip.mp4", "video/mp4")),
            "https://cdn.example/files/xyz/clip.mp4");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 6u);  // initiate, part 1, part 2 (dropped), part 2, part 3, complete
  EXPECT_EQ(requests[0].target, "/storage/upload/initiate-multipart?storage_type=fal-cdn-v3");
  EXPECT_EQ(requests[1].target, "/mp/xyz/1?token=t");
  EXPECT_EQ(requests[2].target, "/mp/xyz/2?token=t");
  EXPECT_EQ(requests[3].target, "/mp/xyz/2?token=t");
  EXPECT_EQ(requests[4].target, "/mp/xyz/3?token=t");
  EXPECT_TRUE(requests[1].body + requests[3].body + requests[4].body == data);
  EXPECT_EQ(requests[4].body.size(), 500u);
  for (int i = 1; i <= 4; ++i) EXPECT_FALSE(requests[i].has("authorization"));
  EXPECT_EQ(requests[5].method, "POST");
  EXPECT_EQ(requests[5].target, "/mp/xyz/complete?token=t");
  EXPECT_FALSE(requests[5].has("authorization"));
  EXPECT_EQ(json::parse(requests[5].body),
            json::parse(R"({"parts":[{"partNumber":1,"etag":"e1"},{"partNumber":2,"etag":"e2"},)"
                        R"({"partNumber":3,"etag":"e3"}]})"));
}

bool has_temporary_files(const std::filesystem::path& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().front() == '.') return true;
  }
  return false;
}

TEST(FalClient, DownloadFollowsRedirectsChecksSizeAndRenames) {
  test::TempDir dir;
  const std::string data = random_bytes(200000);
  ScriptedServer server([&](const Recorded& r) {
    if (r.target == "/start") {
      Reply reply = json_reply(302, "");
      reply.headers = {{"Location", "/files/out.mp4"}};
      return reply;
    }
    Reply reply = json_reply(200, data);
    reply.content_type = "video/mp4";
    return reply;
  });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  run(io, client.download(server.url() + "/start", dir / "out.mp4", data.size()));
  std::ifstream in(dir / "out.mp4", std::ios::binary);
  const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(got == data);
  EXPECT_FALSE(has_temporary_files(dir.path()));
  for (const auto& r : server.requests()) EXPECT_FALSE(r.has("authorization"));
}

TEST(FalClient, IncompleteDownloadLeavesNothingBehind) {
  test::TempDir dir;
  ScriptedServer server([](const Recorded&) { return json_reply(200, "short"); });
  asio::io_context io;
  auto clock = std::make_shared<ManualClock>();
  Client client(io.get_executor(), config_for(server.url()), fast_options(clock));
  auto observer = std::make_shared<CountingObserver>();
  client.set_observer(observer);
  const FalError error = expect_fal_error(
      [&] { run(io, client.download(server.url() + "/f", dir / "out.mp4", 1000)); });
  EXPECT_NE(std::string(error.what()).find("incomplete"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.mp4"));
  EXPECT_FALSE(has_temporary_files(dir.path()));
  EXPECT_EQ(server.requests().size(), 4u);  // retried like any broken transfer
  // By the client's one retry loop: reported, and backed off on the client's clock.
  EXPECT_EQ(observer->retries, 3);
  EXPECT_EQ(clock->waits().size(), 3u);
}

TEST(FalClient, DownloadStopsAfterFiveRedirects) {
  test::TempDir dir;
  std::atomic<int> hops{0};
  ScriptedServer server([&](const Recorded&) {
    Reply reply = json_reply(302, "");
    reply.headers = {{"Location", "/hop" + std::to_string(++hops)}};
    return reply;
  });
  asio::io_context io;
  Client client(io.get_executor(), config_for(server.url()), fast_options());
  const FalError error =
      expect_fal_error([&] { run(io, client.download(server.url() + "/f", dir / "o.mp4", {})); });
  EXPECT_EQ(error.kind(), FalErrorKind::http_final);
  EXPECT_EQ(hops.load(), 6);  // the first request and five redirects followed
  EXPECT_FALSE(std::filesystem::exists(dir / "o.mp4"));
}

TEST(FalClient, WaitReportsQueuePositionsAndEachLogLineOnce) {
  const std::vector<std::string> script = {
      R"({"status":"IN_QUEUE","queue_position":2})",
      R"({"status":"IN_QUEUE","queue_position":2})",
      R"({"status":"IN_QUEUE","queue_position":1})",
      R"({"status":"IN_PROGRESS","logs":[{"message":"a"}]})",
      R"({"status":"IN_PROGRESS","logs":[{"message":"a"},{"message":"b"}]})",
      R"({"status":"COMPLETED","logs":[{"message":"a"},{"message":"b"}],"metrics":{"inference_time":1.5}})"};
  std::atomic<std::size_t> next{0};
  ScriptedServer server([&](const Recorded&) {
    const auto i = std::min(next++, script.size() - 1);
    return json_reply(200, script[i]);
  });
  asio::io_context io;
  auto clock = std::make_shared<ManualClock>();
  Client client(io.get_executor(), config_for(server.url()), fast_options(clock));
  std::vector<std::string> events;
  const QueueStatus done = run(io, client.wait_for_completion("r", [&](const Progress& p) {
    std::string event = p.state == QueueState::in_queue      ? "queued"
                        : p.state == QueueState::in_progress ? "running"
                                                             : "completed";
    if (p.queue_position) event += ":" + std::to_string(*p.queue_position);
    for (const auto& line : p.new_logs) event += " log:" + line.message;
    events.push_back(event);
  }));
  EXPECT_EQ(done.state, QueueState::completed);
  EXPECT_EQ(done.inference_time_s, 1.5);
  EXPECT_EQ(events, (std::vector<std::string>{"queued:2", "queued:1", "running log:a",
                                              "running log:b", "completed"}));
  for (const auto& r : server.requests()) {
    EXPECT_EQ(r.target, "/fal-ai/sync-lipsync/requests/r/status?logs=1");
  }
  // Polls back off by half while queued (5 ms -> 7 -> 10 -> 15, at most 20) and return to
  // the poll interval once it runs.
  EXPECT_EQ(clock->waits(), (std::vector<std::chrono::milliseconds>{7ms, 10ms, 15ms, 5ms, 5ms}));
}

TEST(FalClient, WaitGivesUpAfterTheTotalTimeout) {
  ScriptedServer server([](const Recorded&) {
    return json_reply(200, R"({"status":"IN_QUEUE","queue_position":5})");
  });
  asio::io_context io;
  auto config = config_for(server.url());
  config.total_timeout_s = 0.3;
  auto clock = std::make_shared<ManualClock>();
  Client client(io.get_executor(), config, fast_options(clock));
  const FalError error = expect_fal_error([&] { run(io, client.wait_for_completion("r")); });
  EXPECT_EQ(error.kind(), FalErrorKind::timeout);
  EXPECT_TRUE(error.is_transient());
  // It gives up when the next poll would land past the deadline, not after sleeping past it.
  EXPECT_LT(clock->waited(), 300ms);
  EXPECT_GE(clock->waited() + 20ms, 300ms);
}

TEST(FalClient, WaitCanFollowTheStatusEventStream) {
  ScriptedServer server([](const Recorded& r) {
    if (r.target.find("/status/stream") == std::string::npos) {
      return json_reply(500, R"({"detail":"should have streamed"})");
    }
    Reply reply = json_reply(200,
                             "data: {\"status\":\"IN_QUEUE\",\"queue_position\":1}\n\n"
                             ": keep-alive comment\n\n"
                             "data: {\"status\":\"IN_PROGRESS\",\"logs\":[{\"message\":\"x\"}]}\n\n"
                             "data: {\"status\":\"COMPLETED\",\"logs\":[]}\n\n");
    reply.content_type = "text/event-stream";
    return reply;
  });
  asio::io_context io;
  auto config = config_for(server.url());
  config.stream_status = true;
  Client client(io.get_executor(), config, fast_options());
  std::vector<std::string> logs;
  int updates = 0;
  const QueueStatus done = run(io, client.wait_for_completion("r", [&](const Progress& p) {
    ++updates;
    for (const auto& line : p.new_logs) logs.push_back(line.message);
  }));
  EXPECT_EQ(done.state, QueueState::completed);
  EXPECT_EQ(updates, 3);
  EXPECT_EQ(logs, std::vector<std::string>{"x"});
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/fal-ai/sync-lipsync/requests/r/status/stream?logs=1");
}

class FalClientTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    certs_ = new test::TlsCerts(test::make_tls_certs(dir_->path()));
  }
  static void TearDownTestSuite() {
    delete certs_;
    delete dir_;
  }
  static std::unique_ptr<asio::ssl::context> server_context(const std::filesystem::path& cert,
                                                            const std::filesystem::path& key) {
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    context->use_certificate_chain_file(cert.string());
    context->use_private_key_file(key.string(), asio::ssl::context::pem);
    return context;
  }
  static inline test::TempDir* dir_ = nullptr;
  static inline test::TlsCerts* certs_ = nullptr;
};

TEST_F(FalClientTls, TrustsTheConfiguredCaForLocalhostAndIp) {
  auto tls = server_context(certs_->server_cert, certs_->server_key);
  ScriptedServer server(
      [](const Recorded&) { return json_reply(200, R"({"status":"COMPLETED"})"); }, tls.get());
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    asio::io_context io;
    auto config = config_for(server.url(host));
    config.ca_file = certs_->ca_cert;
    Client client(io.get_executor(), config, fast_options());
    EXPECT_EQ(run(io, client.status("r", false)).state, QueueState::completed) << host;
  }
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.requests()[0].header("host"),
            "localhost:" + server.url().substr(server.url().rfind(':') + 1));
}

TEST_F(FalClientTls, RefusesAnUnknownCa) {
  auto tls = server_context(certs_->unknown_ca_cert, certs_->unknown_ca_key);
  ScriptedServer server([](const Recorded&) { return json_reply(200, "{}"); }, tls.get());
  asio::io_context io;
  auto config = config_for(server.url("localhost"));
  config.ca_file = certs_->ca_cert;
  Client client(io.get_executor(), config, fast_options());
  const FalError error = expect_fal_error([&] { run(io, client.status("r", false)); });
  EXPECT_EQ(error.kind(), FalErrorKind::tls) << error.what();
  EXPECT_TRUE(server.requests().empty()) << "a request was sent over an untrusted connection";
}

TEST_F(FalClientTls, RefusesACertificateForAnotherHost) {
  auto tls = server_context(certs_->wrong_host_cert, certs_->wrong_host_key);
  ScriptedServer server([](const Recorded&) { return json_reply(200, "{}"); }, tls.get());
  asio::io_context io;
  auto config = config_for(server.url("localhost"));
  config.ca_file = certs_->ca_cert;
  Client client(io.get_executor(), config, fast_options());
  const FalError error = expect_fal_error([&] { run(io, client.status("r", false)); });
  EXPECT_EQ(error.kind(), FalErrorKind::tls) << error.what();
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(FalClientTls, AMissingCaFileIsAConfigurationError) {
  asio::io_context io;
  auto config = config_for("https://localhost:1");
  config.ca_file = dir_->path() / "nope.pem";
  const FalError error =
      expect_fal_error([&] { Client client(io.get_executor(), config, fast_options()); });
  EXPECT_EQ(error.kind(), FalErrorKind::config);
}

// A minimal HTTPS CONNECT proxy: records each CONNECT target, then relays bytes both ways.
class ConnectProxy {
 public:
  ConnectProxy() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ConnectProxy() {
    io_.stop();
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::vector<std::string> targets() const {
    std::lock_guard lock(mutex_);
    return targets_;
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, tunnel(std::make_shared<tcp::socket>(std::move(socket))), asio::detached);
    }
  }

  asio::awaitable<void> tunnel(std::shared_ptr<tcp::socket> client) {
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    auto [ec, n] = co_await http::async_read_header(*client, buffer, parser,
                                                    asio::as_tuple(asio::use_awaitable));
    if (ec || parser.get().method() != http::verb::connect) co_return;
    const std::string target(parser.get().target());
    {
      std::lock_guard lock(mutex_);
      targets_.push_back(target);
    }
    const auto colon = target.rfind(':');
    tcp::resolver resolver(io_);
    auto [resolve_error, endpoints] = co_await resolver.async_resolve(
        target.substr(0, colon), target.substr(colon + 1), asio::as_tuple(asio::use_awaitable));
    if (resolve_error) co_return;
    auto upstream = std::make_shared<tcp::socket>(io_);
    auto [connect_error, endpoint] =
        co_await asio::async_connect(*upstream, endpoints, asio::as_tuple(asio::use_awaitable));
    if (connect_error) co_return;
    const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(*client, asio::buffer(established),
                               asio::as_tuple(asio::use_awaitable));
    asio::co_spawn(io_, relay(client, upstream), asio::detached);
    co_await relay(upstream, client);
  }

  static asio::awaitable<void> relay(std::shared_ptr<tcp::socket> from,
                                     std::shared_ptr<tcp::socket> to) {
    std::array<char, 16384> chunk;
    for (;;) {
      auto [ec, n] =
          co_await from->async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      auto [write_error, written] = co_await asio::async_write(*to, asio::buffer(chunk.data(), n),
                                                               asio::as_tuple(asio::use_awaitable));
      if (write_error) break;
    }
    boost::system::error_code ignored;
    to->shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<std::string> targets_;
};

TEST_F(FalClientTls, HttpsGoesThroughTheConnectProxyUnlessNoProxyMatches) {
  auto tls = server_context(certs_->server_cert, certs_->server_key);
  ScriptedServer server(
      [](const Recorded&) { return json_reply(200, R"({"status":"COMPLETED"})"); }, tls.get());
  ConnectProxy proxy;
  const std::string port = server.url().substr(server.url().rfind(':') + 1);
  auto config = config_for(server.url("localhost"));
  config.ca_file = certs_->ca_cert;
  {
    asio::io_context io;
    auto options = fast_options();
    options.proxy = ProxySettings{proxy.url(), "example.org"};
    Client client(io.get_executor(), config, options);
    EXPECT_EQ(run(io, client.status("r", false)).state, QueueState::completed);
  }
  // The proxy saw only the host and port; TLS (and the key) went end to end through it.
  EXPECT_EQ(proxy.targets(), std::vector<std::string>{"localhost:" + port});
  EXPECT_EQ(server.requests().size(), 1u);
  {
    asio::io_context io;
    auto options = fast_options();
    options.proxy = ProxySettings{proxy.url(), "localhost"};
    Client client(io.get_executor(), config, options);
    EXPECT_EQ(run(io, client.status("r", false)).state, QueueState::completed);
  }
  EXPECT_EQ(proxy.targets().size(), 1u) << "no_proxy was not honoured";
  EXPECT_EQ(server.requests().size(), 2u);
}

}  // namespace
}  // namespace lipsyncd::fal
