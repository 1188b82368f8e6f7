#pragma once

// Fréchet Inception Distance as EDM's fid.py computes it: Inception-v3's 2048 pool features of the generated
// images (models/inception), their mean and unbiased covariance, and the Fréchet distance to reference statistics
// read from an .npz holding 'mu' and 'sigma' (EDM's `fid.py ref` output, or `lethe-cli fid-ref`).

#include "core/eval/frechet.h"
#include "core/models/inception/fid_inception.h"

#include <torch/types.h>

#include <filesystem>
#include <string>

namespace lethe::eval {

/// Report name: the real FID (Inception-v3 of the 2015 TensorFlow graph), unlike FD_cls.
inline constexpr const char* kFidName = "FID";

/// EDM's reference statistics: 'mu' float [D] and 'sigma' float [D, D] (read as float64). Other arrays in the
/// archive are ignored. Throws FormatError naming the file and array when one is missing, of another shape, not
/// of dimension `dimension`, or not finite; and the errors of io::readNpz (a pickled array among them).
FeatureStatistics readFidReference(
    const std::filesystem::path& file, std::int64_t dimension = models::inception::kFidFeatureDim);

/// Writes statistics as np.savez(file, mu=…, sigma=…) does (float64), which EDM's fid.py reads.
void writeFidReference(const std::filesystem::path& file, const FeatureStatistics& statistics);

/// The Inception detector with the reference statistics FID is measured against.
struct FidInstrument {
    models::inception::LoadedInception inception;
    models::inception::FidResize resize = models::inception::FidResize::Edm;
    FeatureStatistics reference;
    std::filesystem::path referenceFile;
    std::string referenceSha256;
};

/// Loads the detector and the statistics; throws the loaders' errors.
FidInstrument loadFidInstrument(const std::filesystem::path& inception, const std::filesystem::path& reference,
    models::inception::FidResize resize, torch::Device device);

/// The statistics of uint8 images [N, 3 or 1, H, W] (N ≥ 2) in Inception's feature space.
FeatureStatistics inceptionStatistics(FidInstrument& fid, const torch::Tensor& images, std::int64_t batch = 64);

/// FID of uint8 images against the instrument's reference statistics.
double frechetInceptionDistance(FidInstrument& fid, const torch::Tensor& images, std::int64_t batch = 64);

/// "edm" (NVIDIA's TorchScript detector, which EDM's fid.py uses) or "pytorch-fid".
std::string fidResizeName(models::inception::FidResize resize);
/// Parses fidResizeName's names; throws Error listing them.
models::inception::FidResize fidResizeFromName(const std::string& name);

} // namespace lethe::eval
