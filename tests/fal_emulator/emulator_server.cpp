#include "emulator_server.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <variant>

#include "fault_plan.hpp"
#include "file_store.hpp"
#include "lipsyncd/core/error.hpp"
#include "request_log.hpp"
#include "webhook_sender.hpp"

// GCC 12 reports -Wmismatched-new-delete for a coroutine frame here since Asio is compiled
// separately (src/net): it pairs the frame's sized operator delete with the aligned_alloc it
// inlined from Asio's matching operator new. A false positive (see job_pipeline.cpp).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace lipsyncd::emulator {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

constexpr size_t kJsonBodyLimit = 16 * 1024 * 1024;
constexpr size_t kLoggedBodyLimit = 64 * 1024;
constexpr size_t kChunkSize = 256 * 1024;

// The sub-paths each emulated app serves ("" is the app itself); each has its input schema
// in input_validation.cpp.
const std::map<std::string, std::vector<std::string>, std::less<>> kApps = {
    {"fal-ai/sync-lipsync", {"", "v2", "v3"}},
};

std::string percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> params;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    params[percent_decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return params;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// What a route answers. The sender applies the fault (slow body, reset) while writing it.
struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string request_id;        // x-fal-request-id; a fresh one when empty
  bool omit_request_id = false;  // fal's ingress (nginx) answers without one
  // Streamed instead of `body`:
  std::optional<fs::path> file;
  unsigned long long file_offset = 0;
  unsigned long long file_length = 0;
  std::string sse_job;  // status/stream: the job whose statuses are sent as events
  bool sse_logs = false;
  bool reset_instead = false;  // accept_then_reset: drop the connection, answer nothing
  bool head_only = false;
};

Reply json_reply(int status, const json::value& body) {
  Reply reply;
  reply.status = status;
  reply.body = json::serialize(body);
  return reply;
}

// accept_then_reset and broken uploads: the connection is dropped instead of answered.
Reply reset_reply() {
  Reply reply;
  reply.reset_instead = true;
  return reply;
}

Reply detail_reply(int status, std::string_view detail) {
  return json_reply(status, json::object{{"detail", detail}});
}

enum class BodyEnd { complete, reset, broken };

}  // namespace

struct EmulatorServer::Impl {
  explicit Impl(ServerOptions opts)
      : options(std::move(opts)),
        store(options.storage_dir),
        log(options.request_log.empty() ? options.storage_dir / "requests.jsonl"
                                        : options.request_log),
        jobs(
            store, options.timing,
            [this](const JobSnapshot& job, const std::string& url) { on_job_completed(job, url); }),
        signals(io, SIGTERM, SIGINT) {}

  ServerOptions options;
  asio::io_context io{1};
  FileStore store;
  RequestLog log;
  FaultPlan faults;
  WebhookSender webhooks;
  JobQueue jobs;
  std::optional<tcp::acceptor> acceptor;
  std::optional<ssl::context> tls;
  asio::signal_set signals;
  std::string base_url;

  void on_job_completed(const JobSnapshot& job, const std::string& webhook_url) {
    std::cerr << "fal-emulator: request " << job.id << " completed with HTTP "
              << job.result->http_status << "\n";
    if (webhook_url.empty()) return;
    const bool ok = job.result->http_status < 300;
    json::object payload{{"request_id", job.id},
                         {"gateway_request_id", job.id},
                         {"status", ok ? "OK" : "ERROR"},
                         {"payload", job.result->body}};
    if (!ok) payload["error"] = job.result->error;
    webhooks.enqueue(webhook_url, json::serialize(payload));
  }

  // ---- connection handling -------------------------------------------------------------

  awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor->async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      if (tls) {
        asio::co_spawn(io, serve_tls(std::move(socket)), asio::detached);
      } else {
        asio::co_spawn(io, serve(std::move(socket)), asio::detached);
      }
    }
  }

  awaitable<void> serve_tls(tcp::socket socket) {
    ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server,
                                    asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    co_await serve(std::move(stream));
  }

  template <class Stream>
  static tcp::socket& lowest(Stream& stream) {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      return stream;
    } else {
      return stream.next_layer();
    }
  }

  // An abortive close (RST), the way a dropped connection looks to a client.
  template <class Stream>
  static void reset_connection(Stream& stream) {
    boost::system::error_code ignored;
    lowest(stream).set_option(asio::socket_base::linger(true, 0), ignored);
    lowest(stream).close(ignored);
  }

  template <class Stream>
  struct Exchange {
    Stream& stream;
    beast::flat_buffer& buffer;
    http::request_parser<http::buffer_body>& parser;
    std::string method;
    std::string path;
    std::string query;
    std::map<std::string, std::string> params;
    std::optional<FaultRule> fault;
    json::object entry;  // the request-log line being built
    bool body_read = false;

    Exchange(Stream& s, beast::flat_buffer& b, http::request_parser<http::buffer_body>& p)
        : stream(s), buffer(b), parser(p), method(p.get().method_string()) {}

    const auto& headers() const { return parser.get(); }
    std::string header(std::string_view name) const {
      const auto it = headers().find(name);
      return it == headers().end() ? std::string() : std::string(it->value());
    }
    long long reset_after_received() const {
      return fault && fault->action == FaultAction::reset ? fault->after_bytes : -1;
    }
  };

  template <class Stream>
  awaitable<BodyEnd> read_body(Exchange<Stream>& ex,
                               const std::function<void(const char*, size_t)>& sink) {
    ex.body_read = true;
    // curl and other clients wait for this before sending a large body.
    if (lower(ex.header("Expect")) == "100-continue" && !ex.parser.is_done()) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!co_await write_all(ex.stream, kContinue, sizeof kContinue - 1))
        co_return BodyEnd::broken;
    }
    std::vector<char> chunk(kChunkSize);
    const long long reset_after = ex.reset_after_received();
    long long total = 0;
    while (!ex.parser.is_done()) {
      size_t want = chunk.size();
      if (reset_after >= 0) {
        if (total >= reset_after) co_return BodyEnd::reset;
        want = std::min<size_t>(want, static_cast<size_t>(reset_after - total));
      }
      ex.parser.get().body().data = chunk.data();
      ex.parser.get().body().size = want;
      boost::system::error_code ec;
      co_await http::async_read(ex.stream, ex.buffer, ex.parser,
                                asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return BodyEnd::broken;
      const size_t got = want - ex.parser.get().body().size;
      total += static_cast<long long>(got);
      sink(chunk.data(), got);
    }
    ex.entry["body_bytes"] = total;
    co_return BodyEnd::complete;
  }

  // Reads a JSON-sized body into `text`. A body over the limit is read to its end but
  // discarded (text left empty, so JSON routes answer 422), which keeps the connection usable.
  template <class Stream>
  awaitable<BodyEnd> read_text_body(Exchange<Stream>& ex, std::string& text) {
    bool too_big = false;
    const auto end = co_await read_body(ex, [&](const char* data, size_t size) {
      if (too_big || text.size() + size > kJsonBodyLimit) {
        too_big = true;
        text.clear();
        return;
      }
      text.append(data, size);
    });
    if (end == BodyEnd::complete && !too_big && !text.empty()) {
      json::error_code ec;
      auto parsed = json::parse(text, ec);
      if (!ec && text.size() <= kLoggedBodyLimit) {
        ex.entry["body"] = std::move(parsed);
      } else if (text.size() <= kLoggedBodyLimit) {
        ex.entry["body"] = text;
      }
    }
    if (too_big) ex.entry["body_too_large"] = true;
    co_return end;
  }

  template <class Stream>
  awaitable<void> pause(Stream& stream, std::chrono::milliseconds duration) {
    asio::steady_timer timer(stream.get_executor());
    timer.expires_after(duration);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }

  template <class Stream>
  awaitable<void> serve(Stream stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::buffer_body> parser;
      parser.body_limit(boost::none);  // uploads of any size are streamed to disk
      parser.header_limit(64 * 1024);
      boost::system::error_code ec;
      co_await http::async_read_header(stream, buffer, parser,
                                       asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      bool keep_alive = false;
      try {
        keep_alive = co_await exchange(stream, buffer, parser);
      } catch (const std::exception& e) {
        std::cerr << "fal-emulator: connection dropped: " << e.what() << "\n";
        keep_alive = false;
      }
      if (!keep_alive || !lowest(stream).is_open()) break;
    }
    boost::system::error_code ignored;
    if (lowest(stream).is_open()) {
      lowest(stream).shutdown(tcp::socket::shutdown_send, ignored);
      lowest(stream).close(ignored);
    }
  }

  // One request/response. Returns whether the connection may carry another request.
  template <class Stream>
  awaitable<bool> exchange(Stream& stream, beast::flat_buffer& buffer,
                           http::request_parser<http::buffer_body>& parser) {
    const auto& request = parser.get();
    Exchange<Stream> ex(stream, buffer, parser);
    const std::string target(request.target());
    const auto question = target.find('?');
    ex.path = target.substr(0, question);
    ex.query = question == std::string::npos ? "" : target.substr(question + 1);
    ex.params = parse_query(ex.query);

    if (ex.path.rfind("/_emulator/", 0) == 0) {
      Reply reply = co_await control(ex);
      co_return co_await send(ex, std::move(reply));
    }

    ex.fault = faults.take(ex.method, ex.path);
    ex.entry["time"] = iso_timestamp_now();
    ex.entry["method"] = ex.method;
    ex.entry["path"] = ex.path;
    ex.entry["query"] = ex.query;
    json::array header_names;
    json::object fal_headers;
    for (const auto& field : request) {
      const std::string name = lower(field.name_string());
      header_names.emplace_back(name);
      if (name.rfind("x-fal-", 0) == 0 || name == "user-agent" || name == "content-type" ||
          name == "range") {
        fal_headers[name] = std::string(field.value());
      }
    }
    ex.entry["headers"] = std::move(header_names);
    ex.entry["header_values"] = std::move(fal_headers);
    ex.entry["body"] = nullptr;
    ex.entry["body_bytes"] = 0;
    ex.entry["fault"] = ex.fault ? json::value(to_string(ex.fault->action)) : json::value(nullptr);

    if (ex.fault && ex.fault->delay_ms > 0) {
      co_await pause(stream, std::chrono::milliseconds(ex.fault->delay_ms));
    }
    if (ex.fault && ex.fault->action == FaultAction::status) {
      std::string ignored;
      if (co_await read_text_body(ex, ignored) != BodyEnd::complete) co_return false;
      co_return co_await send(ex, scripted_reply(*ex.fault));
    }

    Reply reply = co_await route(ex);
    if (!lowest(stream).is_open()) co_return false;
    if (!ex.body_read && !parser.is_done()) {
      // The route did not need the body (e.g. an auth failure): consume it so the connection
      // stays usable, unless the fault says to drop it.
      std::string ignored;
      const auto end = co_await read_text_body(ex, ignored);
      if (end == BodyEnd::reset) {
        record(ex, 0);
        reset_connection(stream);
        co_return false;
      }
      if (end != BodyEnd::complete) co_return false;
    }
    co_return co_await send(ex, std::move(reply));
  }

  // The `status` fault's answer: its body (JSON, or raw text such as an nginx page), headers.
  static Reply scripted_reply(const FaultRule& fault) {
    Reply reply = fault.body ? json_reply(fault.status, *fault.body)
                             : detail_reply(fault.status, "fal emulator: scripted fault");
    if (fault.raw_body) reply.body = *fault.raw_body;
    reply.content_type = fault.content_type;
    if (!fault.retry_after.empty()) reply.headers.emplace_back("Retry-After", fault.retry_after);
    for (const auto& header : fault.headers) reply.headers.push_back(header);
    reply.omit_request_id = !fault.request_id_header;
    return reply;
  }

  template <class Stream>
  void record(Exchange<Stream>& ex, int status) {
    ex.entry["status"] = status;
    log.append(ex.entry);
  }

  // ---- writing responses ---------------------------------------------------------------

  template <class Stream>
  awaitable<bool> write_all(Stream& stream, const char* data, size_t size) {
    boost::system::error_code ec;
    co_await asio::async_write(stream, asio::buffer(data, size),
                               asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  // Writes body bytes honouring slow_body and reset faults; false when the connection ended.
  template <class Stream>
  awaitable<bool> write_body(Exchange<Stream>& ex, const char* data, size_t size, long long& sent) {
    const bool slow = ex.fault && ex.fault->action == FaultAction::slow_body;
    const long long reset_after =
        ex.fault && ex.fault->action == FaultAction::reset ? ex.fault->after_bytes : -1;
    size_t offset = 0;
    while (offset < size) {
      size_t piece = size - offset;
      if (slow)
        piece = std::min<size_t>(
            piece, static_cast<size_t>(std::max(1LL, ex.fault->bytes_per_second / 10)));
      if (reset_after >= 0) {
        if (sent >= reset_after) {
          reset_connection(ex.stream);
          co_return false;
        }
        piece = std::min<size_t>(piece, static_cast<size_t>(reset_after - sent));
      }
      if (!co_await write_all(ex.stream, data + offset, piece)) co_return false;
      offset += piece;
      sent += static_cast<long long>(piece);
      if (slow) co_await pause(ex.stream, std::chrono::milliseconds(100));
    }
    co_return true;
  }

  template <class Stream>
  awaitable<bool> send(Exchange<Stream>& ex, Reply reply) {
    if (!ex.path.starts_with("/_emulator/")) record(ex, reply.status);
    if (reply.reset_instead) {
      reset_connection(ex.stream);
      co_return false;
    }
    const bool keep_alive = ex.parser.get().keep_alive() && ex.parser.is_done();
    const bool sse = !reply.sse_job.empty();
    const unsigned long long length = reply.file ? reply.file_length : reply.body.size();
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                       std::string(http::obsolete_reason(
                           http::int_to_status(static_cast<unsigned>(reply.status)))) +
                       "\r\n";
    if (!reply.omit_request_id) {
      head +=
          "x-fal-request-id: " + (reply.request_id.empty() ? new_request_id() : reply.request_id) +
          "\r\n";
    }
    head += "Content-Type: " + reply.content_type + "\r\n";
    if (sse) {
      head += "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n";
    } else {
      head += "Content-Length: " + std::to_string(length) + "\r\n";
    }
    for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
    head += keep_alive && !sse ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (!co_await write_all(ex.stream, head.data(), head.size())) co_return false;
    if (reply.head_only) co_return keep_alive;

    long long sent = 0;
    if (sse) {
      co_await stream_status(ex, reply.sse_job, reply.sse_logs, sent);
      co_return false;
    }
    if (reply.file) {
      std::ifstream in(*reply.file, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(reply.file_offset));
      std::vector<char> chunk(kChunkSize);
      unsigned long long left = reply.file_length;
      while (left > 0 && in) {
        in.read(chunk.data(),
                static_cast<std::streamsize>(std::min<unsigned long long>(left, chunk.size())));
        const auto got = static_cast<size_t>(in.gcount());
        if (got == 0) break;
        if (!co_await write_body(ex, chunk.data(), got, sent)) co_return false;
        left -= got;
      }
      co_return keep_alive;
    }
    if (!co_await write_body(ex, reply.body.data(), reply.body.size(), sent)) co_return false;
    if (ex.fault && ex.fault->action == FaultAction::reset && reply.body.empty()) {
      reset_connection(ex.stream);
      co_return false;
    }
    co_return keep_alive;
  }

  template <class Stream>
  awaitable<void> stream_status(Exchange<Stream>& ex, const std::string& id, bool with_logs,
                                long long& sent) {
    std::string last;
    for (;;) {
      const auto job = jobs.find(id);
      if (!job) break;
      const std::string event = "data: " + json::serialize(status_body(*job, with_logs)) + "\n\n";
      if (event != last) {
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", event.size());
        const std::string chunk = size_line + event + "\r\n";
        if (!co_await write_body(ex, chunk.data(), chunk.size(), sent)) co_return;
        last = event;
      }
      if (job->status == JobStatus::completed) break;
      co_await pause(ex.stream, std::chrono::milliseconds(100));
    }
    static constexpr char kLastChunk[] = "0\r\n\r\n";
    co_await write_all(ex.stream, kLastChunk, sizeof kLastChunk - 1);
  }

  // ---- routes --------------------------------------------------------------------------

  template <class Stream>
  awaitable<Reply> control(Exchange<Stream>& ex) {
    if (ex.path == "/_emulator/faults" && ex.method == "POST") {
      std::string text;
      if (co_await read_text_body(ex, text) != BodyEnd::complete)
        co_return detail_reply(400, "body unreadable");
      try {
        faults.replace(text);
      } catch (const Error& e) {
        co_return detail_reply(400, e.what());
      }
      co_return json_reply(200, faults.describe());
    }
    if (ex.path == "/_emulator/faults" && ex.method == "DELETE") {
      faults.clear();
      co_return json_reply(200, faults.describe());
    }
    if (ex.path == "/_emulator/faults" && ex.method == "GET")
      co_return json_reply(200, faults.describe());
    if (ex.path == "/_emulator/health" && ex.method == "GET") {
      co_return json_reply(200, json::object{{"ok", true}, {"base_url", base_url}});
    }
    co_return detail_reply(404, "unknown control route");
  }

  template <class Stream>
  bool authorized(const Exchange<Stream>& ex) const {
    return ex.header("Authorization") == "Key " + options.key;
  }

  static Reply unauthorized(const std::string& what) {
    return detail_reply(401, "Cannot access '" + what +
                                 "': authentication is required (Authorization: Key <your key>).");
  }

  template <class Stream>
  awaitable<Reply> route(Exchange<Stream>& ex) {
    const auto parts = split_path(ex.path);
    const bool get = ex.method == "GET" || ex.method == "HEAD";
    if (get && parts.size() == 3 && parts[0] == "files") co_return serve_file(ex);
    if (parts.size() >= 3 && parts[0] == "_storage") co_return co_await storage_upload(ex, parts);
    if (ex.path == "/storage/upload/initiate" || ex.path == "/storage/upload/initiate-multipart") {
      if (ex.method != "POST") co_return detail_reply(405, "Method Not Allowed");
      if (!authorized(ex)) co_return unauthorized(ex.path);
      co_return co_await initiate_upload(ex, ex.path.ends_with("multipart"));
    }
    const bool sync_run = (!parts.empty() && parts[0] == "_sync") ||
                          lower(ex.header("Host")).rfind("fal.run", 0) == 0;
    std::vector<std::string> app_parts = parts;
    if (!parts.empty() && parts[0] == "_sync") app_parts.erase(app_parts.begin());
    if (app_parts.size() < 2) co_return detail_reply(404, "Not Found");
    const std::string app = app_parts[0] + "/" + app_parts[1];
    if (!authorized(ex)) co_return unauthorized(app);
    const auto known = kApps.find(app);
    if (known == kApps.end()) co_return detail_reply(404, "Application '" + app + "' not found");

    // §2: status/result/cancel at the app-only form (owner/alias/requests/<id>/...) and the
    // full-id form (owner/alias/<path>/requests/<id>/...).
    for (size_t at = 2; !sync_run && at + 1 < app_parts.size(); ++at) {
      if (app_parts[at] != "requests") continue;
      std::string path_between;
      for (size_t i = 2; i < at; ++i)
        path_between += (path_between.empty() ? "" : "/") + app_parts[i];
      if (std::find(known->second.begin(), known->second.end(), path_between) ==
          known->second.end()) {
        break;
      }
      std::optional<std::string> endpoint;
      if (at > 2) endpoint = app + "/" + path_between;
      const std::vector<std::string> rest(app_parts.begin() + static_cast<std::ptrdiff_t>(at) + 1,
                                          app_parts.end());
      co_return co_await request_route(ex, app, endpoint, rest);
    }
    std::string sub_path;
    for (size_t i = 2; i < app_parts.size(); ++i)
      sub_path += (sub_path.empty() ? "" : "/") + app_parts[i];
    if (std::find(known->second.begin(), known->second.end(), sub_path) == known->second.end()) {
      co_return detail_reply(404, "Endpoint '" + app + "/" + sub_path + "' not found");
    }
    if (ex.method != "POST") co_return detail_reply(405, "Method Not Allowed");
    co_return co_await submit(ex, app, sub_path, sync_run);
  }

  template <class Stream>
  Reply serve_file(Exchange<Stream>& ex) {
    const auto file = store.find_by_path(ex.path);
    if (!file) return detail_reply(404, "File not found");
    const auto size = fs::file_size(file->path);
    Reply reply;
    reply.content_type =
        file->content_type.empty() ? "application/octet-stream" : file->content_type;
    reply.file = file->path;
    reply.file_length = size;
    reply.head_only = ex.method == "HEAD";
    reply.headers.emplace_back("Accept-Ranges", "bytes");
    const std::string range = ex.header("Range");
    if (!range.empty()) {
      // bytes=a-b, bytes=a-, bytes=-n (one range; fal's CDN serves single ranges)
      unsigned long long first = 0;
      unsigned long long last = size == 0 ? 0 : size - 1;
      bool valid = range.rfind("bytes=", 0) == 0 && range.find(',') == std::string::npos;
      const auto spec = valid ? range.substr(6) : std::string();
      const auto dash = spec.find('-');
      valid = valid && dash != std::string::npos;
      try {
        if (valid && dash == 0) {
          const auto suffix = std::stoull(spec.substr(1));
          first = suffix >= size ? 0 : size - suffix;
        } else if (valid) {
          first = std::stoull(spec.substr(0, dash));
          if (dash + 1 < spec.size()) last = std::min(last, std::stoull(spec.substr(dash + 1)));
        }
      } catch (const std::exception&) {
        valid = false;
      }
      if (!valid || first >= size || first > last) {
        Reply unsatisfiable = detail_reply(416, "Range Not Satisfiable");
        unsatisfiable.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
        return unsatisfiable;
      }
      reply.status = 206;
      reply.file_offset = first;
      reply.file_length = last - first + 1;
      reply.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                                      std::to_string(last) + "/" +
                                                      std::to_string(size));
    }
    return reply;
  }

  template <class Stream>
  awaitable<Reply> initiate_upload(Exchange<Stream>& ex, bool multipart) {
    std::string text;
    if (co_await read_text_body(ex, text) != BodyEnd::complete) co_return reset_reply();
    json::error_code ec;
    const auto body = json::parse(text, ec);
    json::array detail;
    std::string content_type;
    std::string file_name;
    if (ec || !body.is_object()) {
      detail.push_back(json::object{
          {"type", "model_attributes_type"},
          {"loc", json::array{"body"}},
          {"msg", "Input should be a valid dictionary or object to extract fields from"},
          {"input", text}});
    } else {
      for (const auto* field : {"content_type", "file_name"}) {
        const auto* value = body.as_object().if_contains(field);
        if (value == nullptr || !value->is_string()) {
          detail.push_back(json::object{
              {"type", value == nullptr ? "missing" : "string_type"},
              {"loc", json::array{"body", field}},
              {"msg", value == nullptr ? "Field required" : "Input should be a valid string"},
              {"input", value == nullptr ? body : *value}});
        } else {
          (std::string_view(field) == "content_type" ? content_type : file_name) =
              std::string(value->as_string());
        }
      }
    }
    if (!detail.empty()) co_return json_reply(422, json::object{{"detail", detail}});
    const auto issued = store.initiate_upload(content_type, file_name, multipart);
    co_return json_reply(
        200, json::object{{"upload_url", issued.upload_url}, {"file_url", issued.file_url}});
  }

  // PUT /_storage/upload/<token>, PUT /_storage/multipart/<token>/<N>,
  // POST /_storage/multipart/<token>/complete: signed URLs, no Authorization needed.
  template <class Stream>
  awaitable<Reply> storage_upload(Exchange<Stream>& ex, const std::vector<std::string>& parts) {
    const std::string& kind = parts[1];
    const std::string& token = parts[2];
    const std::string signature = ex.params.count("signature") ? ex.params.at("signature") : "";
    if (kind == "upload" && parts.size() == 3 && ex.method == "PUT") {
      const auto target = store.upload_target(token, signature);
      if (!target)
        co_return detail_reply(403, "The upload URL is not valid (unknown or bad signature)");
      const auto end = co_await receive_file(ex, *target);
      if (end != BodyEnd::complete) co_return reset_reply();
      store.commit_upload(token);
      co_return json_reply(200, json::object{});
    }
    if (kind == "multipart" && parts.size() == 4 && parts[3] == "complete" && ex.method == "POST") {
      std::string text;
      if (co_await read_text_body(ex, text) != BodyEnd::complete) co_return reset_reply();
      json::error_code ec;
      const auto body = json::parse(text, ec);
      std::vector<UploadedPart> uploaded;
      if (!ec && body.is_object() && body.as_object().contains("parts") &&
          body.as_object().at("parts").is_array()) {
        for (const auto& part : body.as_object().at("parts").as_array()) {
          if (!part.is_object()) continue;
          const auto* number = part.as_object().if_contains("partNumber");
          const auto* etag = part.as_object().if_contains("etag");
          if (number == nullptr || !number->is_number() || etag == nullptr || !etag->is_string())
            continue;
          uploaded.push_back({number->to_number<int>(), std::string(etag->as_string())});
        }
      }
      try {
        store.complete_multipart(token, signature, uploaded);
      } catch (const Error& e) {
        co_return detail_reply(400, e.what());
      }
      co_return json_reply(200, json::object{});
    }
    if (kind == "multipart" && parts.size() == 4 && ex.method == "PUT") {
      int number = 0;
      try {
        number = std::stoi(parts[3]);
      } catch (const std::exception&) {
        co_return detail_reply(400, "the part number must be an integer");
      }
      const auto target = store.part_target(token, signature, number);
      if (!target)
        co_return detail_reply(403, "The upload URL is not valid (unknown or bad signature)");
      const auto end = co_await receive_file(ex, *target);
      if (end != BodyEnd::complete) co_return reset_reply();
      const auto part = store.commit_part(token, number);
      co_return json_reply(200,
                           json::object{{"partNumber", part.part_number}, {"etag", part.etag}});
    }
    co_return detail_reply(404, "Not Found");
  }

  template <class Stream>
  awaitable<BodyEnd> receive_file(Exchange<Stream>& ex, const fs::path& target) {
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    const auto end = co_await read_body(ex, [&](const char* data, size_t size) {
      out.write(data, static_cast<std::streamsize>(size));
    });
    out.close();
    if (end != BodyEnd::complete || !out) {
      std::error_code ignored;
      fs::remove(target, ignored);
      co_return end == BodyEnd::complete ? BodyEnd::broken : end;
    }
    co_return BodyEnd::complete;
  }

  json::object request_urls(const std::string& app, const std::string& endpoint,
                            const std::string& id) const {
    const std::string& route = options.return_full_id_urls ? endpoint : app;
    const std::string base = base_url + "/" + route + "/requests/" + id;
    return json::object{{"request_id", id},
                        {"response_url", base},
                        {"status_url", base + "/status"},
                        {"cancel_url", base + "/cancel"}};
  }

  json::object status_body(const JobSnapshot& job, bool with_logs) const {
    json::object body = request_urls(job.app, job.endpoint, job.id);
    switch (job.status) {
      case JobStatus::in_queue:
        body["status"] = "IN_QUEUE";
        body["queue_position"] = job.queue_position;
        break;
      case JobStatus::in_progress:
        body["status"] = "IN_PROGRESS";
        break;
      case JobStatus::completed:
        body["status"] = "COMPLETED";
        body["metrics"] = json::object{{"inference_time", job.inference_time_s}};
        if (job.result && !job.result->error.empty()) {
          body["error"] = job.result->error;
          body["error_type"] = job.result->error_type;
        }
        break;
    }
    if (with_logs && job.status != JobStatus::in_queue) {
      json::array logs;
      for (const auto& line : job.logs) {
        logs.push_back(json::object{{"timestamp", line.timestamp},
                                    {"level", "INFO"},
                                    {"message", line.message},
                                    {"source", "USER"}});
      }
      body["logs"] = std::move(logs);
    } else {
      body["logs"] = nullptr;
    }
    return body;
  }

  static Reply result_reply(const JobSnapshot& job) {
    Reply reply = json_reply(job.result->http_status, job.result->body);
    if (job.result->http_status == 422) reply.headers.emplace_back("X-Fal-Retryable", "false");
    if (job.result->user_timeout) reply.headers.emplace_back("x-fal-request-timeout-type", "user");
    if (!job.result->error_type.empty())
      reply.headers.emplace_back("X-Fal-Error-Type", job.result->error_type);
    reply.request_id = job.id;
    return reply;
  }

  // §4.2: JS sends logs=1/0, Python logs=true/false; FastAPI's bool parsing takes these.
  static std::optional<bool> logs_flag(const std::map<std::string, std::string>& params) {
    const auto it = params.find("logs");
    if (it == params.end()) return false;
    const std::string value = lower(it->second);
    if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
    if (value == "0" || value == "false" || value == "no" || value == "off") return false;
    return std::nullopt;
  }

  static Reply not_found_reply() { return json_reply(404, json::object{{"status", "NOT_FOUND"}}); }

  // `rest` is what follows ".../requests/": <id>[/status[/stream] | /response | /cancel].
  // `endpoint` is set for the full-id form (owner/alias/path/requests/...), whose request
  // must have been submitted to that very endpoint.
  template <class Stream>
  awaitable<Reply> request_route(Exchange<Stream>& ex, const std::string& app,
                                 const std::optional<std::string>& endpoint,
                                 const std::vector<std::string>& rest) {
    const std::string& id = rest[0];
    const auto job = jobs.find(id);
    if (!job || job->app != app || (endpoint && job->endpoint != *endpoint)) {
      co_return not_found_reply();
    }
    const auto with_logs = logs_flag(ex.params);
    if (!with_logs) {
      co_return json_reply(
          422, json::object{{"detail",
                             json::array{json::object{{"type", "bool_parsing"},
                                                      {"loc", json::array{"query", "logs"}},
                                                      {"msg",
                                                       "Input should be a valid boolean, unable to "
                                                       "interpret input"},
                                                      {"input", ex.params.at("logs")}}}}});
    }
    Reply reply;
    const bool result_route = rest.size() == 1 || (rest.size() == 2 && rest[1] == "response");
    if (result_route && ex.method == "GET") {
      if (job->status != JobStatus::completed) {
        reply = detail_reply(400, "Request is still in progress");
      } else {
        reply = result_reply(*job);
      }
    } else if (rest.size() == 2 && rest[1] == "status" && ex.method == "GET") {
      reply = json_reply(job->status == JobStatus::completed ? 200 : 202,
                         status_body(*job, *with_logs));
    } else if (rest.size() == 3 && rest[1] == "status" && rest[2] == "stream" &&
               ex.method == "GET") {
      reply.content_type = "text/event-stream";
      reply.sse_job = id;
      reply.sse_logs = *with_logs;
    } else if (rest.size() == 2 && rest[1] == "cancel" && ex.method == "PUT") {
      switch (jobs.cancel(id)) {
        case CancelOutcome::cancelled_in_queue:
        case CancelOutcome::requested_while_running:
          reply = json_reply(202, json::object{{"status", "CANCELLATION_REQUESTED"}});
          break;
        case CancelOutcome::already_completed:
          reply = json_reply(400, json::object{{"status", "ALREADY_COMPLETED"}});
          break;
        case CancelOutcome::unknown:
          reply = not_found_reply();
          break;
      }
    } else {
      reply = detail_reply(405, "Method Not Allowed");
    }
    reply.request_id = id;
    co_return reply;
  }

  template <class Stream>
  awaitable<Reply> submit(Exchange<Stream>& ex, const std::string& app, const std::string& sub_path,
                          bool sync_run) {
    std::string text;
    const auto end = co_await read_text_body(ex, text);
    if (end != BodyEnd::complete) co_return reset_reply();
    auto outcome = validate_lipsync_input(text, sub_path);
    if (!outcome.ok()) co_return json_reply(422, json::object{{"detail", outcome.detail}});

    const std::string priority = ex.header("x-fal-queue-priority");
    if (!priority.empty() && priority != "normal" && priority != "low") {
      co_return json_reply(
          422,
          json::object{{"detail", json::array{json::object{
                                      {"type", "enum"},
                                      {"loc", json::array{"header", "x-fal-queue-priority"}},
                                      {"msg", "Input should be 'normal' or 'low'"},
                                      {"input", priority},
                                      {"ctx", json::object{{"expected", "'normal' or 'low'"}}}}}}});
    }
    JobRequest request;
    request.app = app;
    request.endpoint = sub_path.empty() ? app : app + "/" + sub_path;
    request.input = std::move(*outcome.input);
    if (ex.params.count("fal_webhook")) request.webhook_url = ex.params.at("fal_webhook");
    // §4.1: newer clients send the same deadline as x-fal-request-start-timeout.
    std::string timeout_header = "x-fal-request-timeout";
    if (ex.header(timeout_header).empty()) timeout_header = "x-fal-request-start-timeout";
    if (const auto timeout = ex.header(timeout_header); !timeout.empty()) {
      try {
        request.start_timeout_s = std::stod(timeout);
      } catch (const std::exception&) {
        co_return detail_reply(400, timeout_header + " must be a number of seconds");
      }
      if (*request.start_timeout_s <= 0.1) {
        co_return detail_reply(400, timeout_header + " must be more than 0.1 seconds");
      }
    }
    // §4.1 [T]: refuse with 429 when the app's queue already holds that many requests.
    if (const auto limit = ex.params.find("fal_max_queue_length"); limit != ex.params.end()) {
      long long max_length = -1;
      try {
        max_length = std::stoll(limit->second);
      } catch (const std::exception&) {
      }
      if (max_length < 0) co_return detail_reply(400, "fal_max_queue_length must be a number");
      if (jobs.queued_count(app) >= static_cast<std::size_t>(max_length)) {
        Reply full = detail_reply(429, "The queue of " + app + " is longer than " + limit->second +
                                           " (fal_max_queue_length)");
        full.headers.emplace_back("X-Fal-Needs-Retry", "1");
        co_return full;
      }
    }
    if (ex.fault && ex.fault->action == FaultAction::app_failure) {
      request.forced_failure =
          JobResult{ex.fault->status,
                    ex.fault->body ? *ex.fault->body
                                   : json::value(json::object{{"detail", "Internal server error"}}),
                    "Internal server error",
                    ex.fault->status >= 500 ? "internal_server_error" : "app_error", false};
    }
    request.drop_output = ex.fault && ex.fault->action == FaultAction::result_file_404;
    const std::string id = jobs.submit(std::move(request));
    ex.entry["request_id"] = id;

    if (ex.fault && ex.fault->action == FaultAction::accept_then_reset) co_return reset_reply();
    if (sync_run) {
      for (;;) {
        const auto job = jobs.find(id);
        if (job && job->status == JobStatus::completed) co_return result_reply(*job);
        co_await pause(ex.stream, std::chrono::milliseconds(50));
      }
    }
    const auto job = jobs.find(id);
    json::object body = request_urls(app, sub_path.empty() ? app : app + "/" + sub_path, id);
    body["status"] = "IN_QUEUE";
    body["queue_position"] = job ? job->queue_position : 0;
    Reply reply = json_reply(200, body);
    reply.request_id = id;
    co_return reply;
  }
};

EmulatorServer::EmulatorServer(ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
EmulatorServer::~EmulatorServer() = default;

std::string EmulatorServer::bind() {
  auto& impl = *impl_;
  const bool https = !impl.options.tls_cert.empty() || !impl.options.tls_key.empty();
  if (https) {
    try {
      impl.tls.emplace(ssl::context::tls_server);
      impl.tls->use_certificate_chain_file(impl.options.tls_cert.string());
      impl.tls->use_private_key_file(impl.options.tls_key.string(), ssl::context::pem);
    } catch (const std::exception& e) {
      throw Error("emulator_tls_files_unusable",
                  std::string("cannot load the TLS certificate or key: ") + e.what(),
                  "pass PEM files with --tls-cert and --tls-key");
    }
  }
  try {
    const tcp::endpoint endpoint(asio::ip::make_address(impl.options.listen_host),
                                 impl.options.port);
    impl.acceptor.emplace(impl.io, endpoint, /*reuse_address=*/true);
  } catch (const std::exception& e) {
    throw Error("emulator_listen_failed",
                "cannot listen on " + impl.options.listen_host + ":" +
                    std::to_string(impl.options.port) + ": " + e.what(),
                "pick a free port, or 0 for any");
  }
  const auto port = impl.acceptor->local_endpoint().port();
  impl.base_url = std::string(https ? "https" : "http") + "://" + impl.options.listen_host + ":" +
                  std::to_string(port);
  impl.store.set_base_url(impl.base_url);
  return impl.base_url;
}

void EmulatorServer::run() {
  auto& impl = *impl_;
  impl.signals.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) stop();
  });
  asio::co_spawn(impl.io, impl.accept_loop(), asio::detached);
  impl.io.run();
}

void EmulatorServer::stop() {
  asio::post(impl_->io, [this] { impl_->io.stop(); });
}

}  // namespace lipsyncd::emulator
