#include "job_queue.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "lipsyncd/core/error.hpp"
#include "sync_renderer.hpp"

namespace lipsyncd::emulator {
namespace json = boost::json;
namespace fs = std::filesystem;

std::string iso_timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::system_clock::to_time_t(now);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char with_fraction[80];
  // ISO-8601 UTC with milliseconds and the `Z` fal's log timestamps carry (§4.2).
  std::snprintf(with_fraction, sizeof with_fraction, "%s.%03lldZ", text,
                static_cast<long long>(micros / 1000));
  return with_fraction;
}

namespace {

// The model's documented limit ("Maximum video length: ~10 minutes"), with the slack of a
// container rounding its duration up to whole audio frames.
constexpr double kMaxVideoSeconds = 600;
constexpr double kMaxVideoSlackSeconds = 0.5;

// fal's model-error shape: a 422 whose detail names the input field and a typed error.
JobResult input_error(std::string_view field, const std::string& url, const std::string& message,
                      std::string_view type) {
  json::object entry{{"loc", json::array{"body", field}},
                     {"msg", message},
                     {"type", type},
                     {"url", "https://docs.fal.ai/errors#" + std::string(type)},
                     {"input", url}};
  return JobResult{422, json::object{{"detail", json::array{entry}}}, message, std::string(type),
                   false};
}

// FNV-1a over the file's bytes: enough to tell test inputs apart, and needs no library.
std::string content_fingerprint(const fs::path& file) {
  std::uint64_t hash = 14695981039346656037ull;
  std::ifstream in(file, std::ios::binary);
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      hash = (hash ^ static_cast<unsigned char>(buffer[i])) * 1099511628211ull;
    }
  }
  return std::to_string(hash) + "-" + std::to_string(fs::file_size(file));
}

std::string render_key(const fs::path& video, const fs::path& audio, const LipsyncInput& input) {
  return content_fingerprint(video) + "_" + content_fingerprint(audio) + "_" + input.model + "_" +
         std::string(to_string(input.sync_mode));
}

}  // namespace

std::optional<fs::path> JobQueue::earlier_render(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto found = renders_.find(key);
  if (found == renders_.end()) return std::nullopt;
  return found->second;
}

void JobQueue::remember_render(const std::string& key, const fs::path& output) {
  const auto kept = store_.scratch_dir("renders") / (key + ".mp4");
  fs::copy_file(output, kept, fs::copy_options::overwrite_existing);
  std::lock_guard lock(mutex_);
  renders_[key] = kept;
}

JobQueue::JobQueue(FileStore& store, JobTiming timing, CompletionHook on_complete)
    : store_(store), timing_(timing), on_complete_(std::move(on_complete)) {
  for (int i = 0; i < std::max(1, timing_.workers); ++i) workers_.emplace_back([this] { work(); });
}

JobQueue::~JobQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& worker : workers_) worker.join();
}

std::string JobQueue::submit(JobRequest request) {
  const std::string id = new_request_id();
  {
    std::lock_guard lock(mutex_);
    Job job;
    job.state.id = id;
    job.state.app = request.app;
    job.state.endpoint = request.endpoint;
    job.request = std::move(request);
    job.created = std::chrono::steady_clock::now();
    jobs_.emplace(id, std::move(job));
    queued_.push_back(id);
  }
  changed_.notify_all();
  return id;
}

JobSnapshot JobQueue::snapshot_locked(const Job& job) const {
  JobSnapshot copy = job.state;
  if (copy.status == JobStatus::in_queue) {
    for (size_t i = 0; i < queued_.size(); ++i) {
      if (queued_[i] == job.state.id) copy.queue_position = static_cast<int>(i);
    }
  }
  return copy;
}

std::optional<JobSnapshot> JobQueue::find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return snapshot_locked(it->second);
}

CancelOutcome JobQueue::cancel(const std::string& id) {
  std::optional<JobSnapshot> finished;
  std::string webhook;
  {
    std::lock_guard lock(mutex_);
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) return CancelOutcome::unknown;
    auto& job = it->second;
    if (job.state.status == JobStatus::completed) return CancelOutcome::already_completed;
    if (job.state.status == JobStatus::in_progress) {
      // §4.5: the runner is signalled; this emulator's runner finishes anyway (the request
      // completes and would be billed), the case a client must not report as "cancelled".
      if (!job.cancel_requested) {
        job.cancel_requested = true;
        job.state.logs.push_back(
            {iso_timestamp_now(), "Cancellation requested while running; the runner finishes"});
      }
      return CancelOutcome::requested_while_running;
    }
    std::erase(queued_, id);
    job.state.status = JobStatus::completed;
    // §11: a request cancelled while queued reads COMPLETED + client_cancelled; its result
    // is a 499 (real fal's body is unverified; the emulator's choice).
    job.state.result = JobResult{
        499, json::object{{"detail", "Request cancelled"}, {"error_type", "client_cancelled"}},
        "Request cancelled", "client_cancelled", false};
    job.state.logs.push_back({iso_timestamp_now(), "Request was cancelled while queued"});
    finished = job.state;
    webhook = job.request.webhook_url;
  }
  changed_.notify_all();
  if (on_complete_) on_complete_(*finished, webhook);
  return CancelOutcome::cancelled_in_queue;
}

std::size_t JobQueue::queued_count(const std::string& app) const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(queued_.begin(), queued_.end(),
                    [&](const auto& id) { return jobs_.at(id).request.app == app; }));
}

void JobQueue::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    std::string id;
    changed_.wait(lock, [&] {
      if (stopping_) return true;
      for (const auto& queued : queued_) {
        if (!jobs_.at(queued).claimed) return true;
      }
      return false;
    });
    if (stopping_) return;
    for (const auto& queued : queued_) {
      if (!jobs_.at(queued).claimed) {
        id = queued;
        break;
      }
    }
    auto& job = jobs_.at(id);
    job.claimed = true;
    const auto ready = job.created + std::chrono::milliseconds(timing_.queue_delay_ms);
    changed_.wait_until(
        lock, ready, [&] { return stopping_ || jobs_.at(id).state.status != JobStatus::in_queue; });
    if (stopping_) return;
    if (job.state.status != JobStatus::in_queue) continue;  // cancelled while waiting
    std::erase(queued_, id);
    const auto timeout = job.request.start_timeout_s;
    if (timeout &&
        std::chrono::steady_clock::now() - job.created > std::chrono::duration<double>(*timeout)) {
      lock.unlock();
      complete(id, JobResult{504, json::object{{"detail", "Request timed out before it started"}},
                             "Request timed out before it started", "request_timeout", true});
      lock.lock();
      continue;
    }
    job.state.status = JobStatus::in_progress;
    job.started = std::chrono::steady_clock::now();
    lock.unlock();
    changed_.notify_all();
    process(id);
    lock.lock();
  }
}

void JobQueue::add_log(const std::string& id, std::string message) {
  std::lock_guard lock(mutex_);
  jobs_.at(id).state.logs.push_back({iso_timestamp_now(), std::move(message)});
}

void JobQueue::process(const std::string& id) {
  JobRequest request;
  std::chrono::steady_clock::time_point started;
  {
    std::lock_guard lock(mutex_);
    request = jobs_.at(id).request;
    started = jobs_.at(id).started;
  }
  JobResult result = run_app(id, request);
  // Processing takes at least --processing-ms, so clients see IN_PROGRESS with growing logs.
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, started + std::chrono::milliseconds(timing_.processing_ms),
                      [&] { return stopping_; });
  lock.unlock();
  complete(id, std::move(result));
}

JobResult JobQueue::run_app(const std::string& id, const JobRequest& request) {
  add_log(id,
          "fal emulator: no lip movement is synthesized; the output is the input video "
          "fitted to the audio by sync_mode " +
              std::string(to_string(request.input.sync_mode)));
  if (request.forced_failure) {
    add_log(id, "fal emulator: failing this request on purpose (app_failure fault)");
    return *request.forced_failure;
  }
  add_log(id, "Downloading video_url");
  const auto video = store_.find_by_url(request.input.video_url);
  if (!video) {
    return input_error("video_url", request.input.video_url,
                       "Failed to download the file. Please check if the URL is accessible.",
                       "file_download_error");
  }
  add_log(id, "Downloading audio_url");
  const auto audio = store_.find_by_url(request.input.audio_url);
  if (!audio) {
    return input_error("audio_url", request.input.audio_url,
                       "Failed to download the file. Please check if the URL is accessible.",
                       "file_download_error");
  }
  const auto scratch = store_.scratch_dir(id);
  const auto output = scratch / "output.mp4";
  std::string key;
  if (timing_.reuse_renders) {
    key = render_key(video->path, audio->path, request.input);
    if (const auto earlier = earlier_render(key)) {
      add_log(id, "Rendering with model " + request.input.model + " (same inputs as before)");
      fs::copy_file(*earlier, output, fs::copy_options::overwrite_existing);
      return finish_render(id, request, output, scratch, std::chrono::steady_clock::now());
    }
  }
  // Which input is bad matters to the client, so probe each one separately first.
  double video_s = 0;
  try {
    const auto info = probe_media(video->path);
    if (!info.has_video) throw Error("input_not_decodable", "no video stream");
    video_s = info.duration_s;
  } catch (const Error&) {
    return input_error("video_url", request.input.video_url,
                       "The video could not be decoded or has no video stream.",
                       "video_load_error");
  }
  if (video_s > kMaxVideoSeconds + kMaxVideoSlackSeconds) {
    // Assumption (README "The work"): the model documents ~10 minutes at most, not the error.
    return input_error("video_url", request.input.video_url,
                       "The video is " + std::to_string(static_cast<long long>(video_s)) +
                           " seconds long; at most " +
                           std::to_string(static_cast<long long>(kMaxVideoSeconds)) +
                           " seconds (10 minutes) are supported.",
                       "video_duration_too_long");
  }
  try {
    if (!probe_media(audio->path).has_audio) throw Error("input_not_decodable", "no audio stream");
  } catch (const Error&) {
    return input_error("audio_url", request.input.audio_url,
                       "The audio could not be decoded or has no audio stream.",
                       "audio_load_error");
  }
  add_log(id, request.input.model.empty() ? std::string("Rendering (sync-3)")
                                          : "Rendering with model " + request.input.model);
  const auto begin = std::chrono::steady_clock::now();
  try {
    render_lipsync_output(video->path, audio->path, request.input.sync_mode, output, scratch);
  } catch (const Error& e) {
    add_log(id, std::string("Rendering failed: ") + e.what());
    return JobResult{500, json::object{{"detail", "Internal server error"}},
                     "Internal server error", "internal_server_error", false};
  }
  if (timing_.reuse_renders) remember_render(key, output);
  return finish_render(id, request, output, scratch, begin);
}

JobResult JobQueue::finish_render(const std::string& id, const JobRequest& request,
                                  const fs::path& output, const fs::path& scratch,
                                  std::chrono::steady_clock::time_point begin) {
  const auto size = fs::file_size(output);
  std::string url;
  if (request.drop_output) {
    // The result_file_404 fault: the result names a file the CDN never got.
    url = store_.base_url() + "/files/" + random_hex(12) + "/" + id + ".mp4";
  } else {
    url = store_.store_output(output, id + ".mp4", "video/mp4");
  }
  std::error_code ignored;
  fs::remove_all(scratch, ignored);
  add_log(id, "Done");
  {
    std::lock_guard lock(mutex_);
    jobs_.at(id).state.inference_time_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  }
  json::object video_out{
      {"url", url}, {"content_type", "video/mp4"}, {"file_name", id + ".mp4"}, {"file_size", size}};
  return JobResult{200, json::object{{"video", video_out}}, "", "", false};
}

void JobQueue::complete(const std::string& id, JobResult result) {
  JobSnapshot finished;
  std::string webhook;
  {
    std::lock_guard lock(mutex_);
    auto& job = jobs_.at(id);
    job.state.status = JobStatus::completed;
    job.state.result = std::move(result);
    finished = job.state;
    webhook = job.request.webhook_url;
  }
  changed_.notify_all();
  if (on_complete_) on_complete_(finished, webhook);
}

}  // namespace lipsyncd::emulator
