#pragma once
// MediaWork on the real media module: probe both inputs, check the face, plan the sync mode
// and normalize the pair. Thread-safe: the pool's threads call it while the loop may swap the
// configuration (SIGHUP).

#include <memory>
#include <mutex>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/daemon/media_work.hpp"

namespace lipsyncd::daemon {

class MediaPipelineWork : public MediaWork {
 public:
  explicit MediaPipelineWork(std::shared_ptr<const Config> config);
  void set_config(std::shared_ptr<const Config> config);

  PreparedJob prepare(const std::filesystem::path& video, const std::filesystem::path& audio,
                      const std::filesystem::path& out_dir, std::optional<SyncMode> requested,
                      const ModelChoice& price) override;
  StitchSummary stitch(const StitchWork& work, const std::filesystem::path& destination) override;
  VideoFacts probe_video(const std::filesystem::path& file) override;

 private:
  std::shared_ptr<const Config> config() const;

  mutable std::mutex mutex_;
  std::shared_ptr<const Config> config_;
};

}  // namespace lipsyncd::daemon
