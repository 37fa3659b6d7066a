#include "lipsyncd/daemon/claim_dispatch.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string_view>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/intake/folder_cleanup.hpp"
#include "lipsyncd/outbox/delivery.hpp"

namespace lipsyncd::daemon {

using EventName = observe::EventName;

std::string stem_of(const std::filesystem::path& file) {
  constexpr std::string_view kManifestSuffix = ".job.json";
  const auto name = file.filename().string();
  if (name.size() > kManifestSuffix.size() && name.ends_with(kManifestSuffix)) {
    return name.substr(0, name.size() - kManifestSuffix.size());
  }
  return file.stem().string();
}

observe::JobEvent accepted_event(const spool::ClaimResult& claimed) {
  const auto& job = claimed.job;
  return {.event = EventName::accepted,
          .job_id = job.id,
          .stage = "intake",
          .message = job.name + ": " + job.video.original_name() + " + " +
                     job.audio.original_name() + " (" + std::string(to_string(job.source)) + ")" +
                     (claimed.copied_across_filesystems
                          ? "; the spool is on another filesystem: inputs were copied, "
                            "fsynced and removed from the inbox"
                          : "")};
}

observe::JobEvent reject_at_intake(const intake::Rejection& rejection,
                                   const std::filesystem::path& inbox,
                                   const std::filesystem::path& error_folder) {
  std::vector<outbox::InputFile> inputs;
  for (const auto& file : rejection.files) {
    // Lexically: relative() would resolve a symlink to wherever it points.
    inputs.push_back({file, file.lexically_relative(inbox).string()});
  }
  const auto path = outbox::reject_inputs(inputs, error_folder, stem_of(rejection.files.front()),
                                          {.stage = "intake",
                                           .reason_code = rejection.reason_code,
                                           .message = rejection.message,
                                           .hint = rejection.hint});
  intake::remove_emptied_folders(rejection.folder, rejection.files);
  return {.event = EventName::rejected,
          .stage = "intake",
          .reason_code = rejection.reason_code,
          .message = rejection.message + " (moved to " + path.parent_path().string() + ")"};
}

ClaimDispatch::ClaimDispatch(boost::asio::io_context& io, boost::asio::thread_pool& claims,
                             spool::JobStore& store, PathsConfig paths, Hooks hooks)
    : io_(io), claims_(claims), store_(store), paths_(std::move(paths)), hooks_(std::move(hooks)) {}

void ClaimDispatch::on_request(JobRequest request) {
  if (stopped_) return;  // left in the inbox: found again by the scan at next start
  // claim() reads every input to hash it: off the loop.
  boost::asio::post(claims_, [this, request = std::move(request)] {
    std::optional<spool::ClaimResult> claim;
    std::optional<Error> failure;
    try {
      claim = store_.claim(request);
      intake::remove_emptied_folders(request.folder, request.files());
    } catch (const Error& e) {
      failure = e;
    } catch (const std::exception& e) {
      failure = Error("claim_failed", e.what(), "", Permanence::transient);
    }
    boost::asio::post(io_, [this, request, claim = std::move(claim), failure] {
      claimed(request, claim, failure);
    });
  });
}

void ClaimDispatch::claimed(const JobRequest& request,
                            const std::optional<spool::ClaimResult>& claim,
                            const std::optional<Error>& failure) {
  if (claim) {
    if (hooks_.on_event) hooks_.on_event(accepted_event(*claim));
    if (hooks_.start_job) hooks_.start_job(claim->job.id);
    return;
  }
  if (failure && failure->reason_code() == spool::kClaimedElsewhereReason) {
    // Looked at again later: by then the other node has moved them, or its claim died and
    // they are free to take (its claim key lapses).
    spdlog::info("intake: {}: {}", request.name, failure->what());
    reexamine_later(request.files());
    return;
  }
  if (failure && !failure->is_transient()) {
    spdlog::warn("intake: {} not claimed: {}", request.name, failure->what());
    return;
  }
  spdlog::warn("intake: {} not claimed yet ({}); trying again in {} s", request.name,
               failure ? failure->what() : "unknown", kClaimRetryDelay.count());
  reexamine_later(request.files());
}

void ClaimDispatch::reexamine_later(std::vector<std::filesystem::path> files) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, kClaimRetryDelay);
  timer->async_wait([this, timer, files = std::move(files)](boost::system::error_code ec) {
    if (!ec && !stopped_ && hooks_.reexamine) hooks_.reexamine(files);
  });
}

bool ClaimDispatch::this_node_rejects(const intake::Rejection& rejection) {
  try {
    if (store_.claim_for_rejection(rejection.files)) return true;
    spdlog::debug("intake: another node is moving {} to error/", rejection.files.front().string());
    return false;
  } catch (const Error& e) {
    if (e.reason_code() == "input_vanished") {
      // Gone already: another node of the fleet (or the user) took them.
      spdlog::debug("intake: {}", e.what());
      return false;
    }
    spdlog::warn("intake: cannot ask the job store which node rejects {} ({}); rejecting it here",
                 rejection.files.front().string(), e.what());
    return true;
  }
}

void ClaimDispatch::on_rejection(const intake::Rejection& rejection) {
  if (rejection.files.empty() || !this_node_rejects(rejection)) return;
  try {
    const auto event = reject_at_intake(rejection, paths_.inbox, paths_.error);
    if (hooks_.on_event) hooks_.on_event(event);
  } catch (const std::exception& e) {
    spdlog::error("intake: cannot move rejected files to {}: {}", paths_.error.string(), e.what());
  }
}

}  // namespace lipsyncd::daemon
