// Precompiled header for lethe_core and the tests that use it: LibTorch is by far the most expensive
// include (about 30 s per translation unit here), so it is parsed once per target.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>
