#pragma once
// What happens to what intake hands over: a request is claimed into the spool (on the claims
// pool, because a claim hashes every input) and its job started; a claim that may work later
// is tried again after kClaimRetryDelay. Rejected inputs go to error/ with their report.

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/job_request.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"
#include "lipsyncd/intake/inbox_watcher.hpp"
#include "lipsyncd/spool/job_store.hpp"

namespace lipsyncd::daemon {

inline constexpr std::chrono::seconds kClaimRetryDelay{5};

// "clip.mp4" -> "clip"; "NAME.job.json" -> "NAME": the stem an intake error report is named by.
std::string stem_of(const std::filesystem::path& file);

// The `accepted` event of a fresh claim.
observe::JobEvent accepted_event(const spool::ClaimResult& claimed);

// Moves rejected inputs into `error_folder` (keeping their place under `inbox`) with the
// error report, removes the folder they emptied, and returns the `rejected` event. Throws
// when the files cannot be moved.
observe::JobEvent reject_at_intake(const intake::Rejection& rejection,
                                   const std::filesystem::path& inbox,
                                   const std::filesystem::path& error_folder);

class ClaimDispatch {
 public:
  struct Hooks {
    EventSink on_event;
    std::function<void(const spool::JobId&)> start_job;
    // Asks intake to look at these files again (a claim that failed for now).
    std::function<void(const std::vector<std::filesystem::path>&)> reexamine;
  };

  // `claims` runs one claim at a time, off the loop; the store is used from both.
  ClaimDispatch(boost::asio::io_context& io, boost::asio::thread_pool& claims,
                spool::JobStore& store, PathsConfig paths, Hooks hooks);

  void on_request(JobRequest request);
  void on_rejection(const intake::Rejection& rejection);
  // Shutting down: new requests stay in the inbox, found again by the scan at next start.
  void stop() noexcept { stopped_ = true; }

 private:
  void claimed(const JobRequest& request, const std::optional<spool::ClaimResult>& claim,
               const std::optional<Error>& failure);
  // One node of a fleet moves refused files to error/; the others leave them (the store
  // arbitrates, as for claims).
  bool this_node_rejects(const intake::Rejection& rejection);
  // After kClaimRetryDelay, intake looks at the files again (if they are still there).
  void reexamine_later(std::vector<std::filesystem::path> files);

  boost::asio::io_context& io_;
  boost::asio::thread_pool& claims_;
  spool::JobStore& store_;
  PathsConfig paths_;
  Hooks hooks_;
  bool stopped_ = false;
};

}  // namespace lipsyncd::daemon
