// Training utilities: Adam, the EDM pretraining loop.
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/train/adam.h"
#include "test_support.h"

#include <torch/torch.h>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;

class TestTrain : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void adamMatchesLibTorch();
    void adamLrChangesTakeEffectNextStep();
    void adamStateRoundTrips();
};

namespace {

/// A small least-squares problem whose gradient changes from step to step.
torch::Tensor lossOf(const torch::Tensor& w, const torch::Tensor& b)
{
    const torch::Tensor x = torch::linspace(-1, 1, 12).reshape({ 4, 3 });
    const torch::Tensor y = torch::tensor({ 0.5f, -1.0f, 2.0f, 0.0f });
    return (x.matmul(w).squeeze(1) + b - y).pow(2).mean();
}

} // namespace

void TestTrain::adamMatchesLibTorch()
{
    torch::manual_seed(0);
    torch::Tensor w1 = torch::randn({ 3, 1 }).requires_grad_(true);
    torch::Tensor b1 = torch::randn({ 1 }).requires_grad_(true);
    torch::Tensor w2 = w1.detach().clone().requires_grad_(true);
    torch::Tensor b2 = b1.detach().clone().requires_grad_(true);
    train::Adam ours({ { "w", w1 }, { "b", b1 } }, { 0.05, 0.9, 0.999, 1e-8, 0.01 });
    torch::optim::Adam reference(
        { w2, b2 }, torch::optim::AdamOptions(0.05).betas({ 0.9, 0.999 }).eps(1e-8).weight_decay(0.01));
    for (int step = 0; step < 25; ++step) {
        ours.zeroGrad();
        lossOf(w1, b1).backward();
        ours.step();
        reference.zero_grad();
        lossOf(w2, b2).backward();
        reference.step();
    }
    QVERIFY(torch::allclose(w1, w2, 1e-6, 1e-7));
    QVERIFY(torch::allclose(b1, b2, 1e-6, 1e-7));
    QCOMPARE(ours.stepCount(), std::int64_t { 25 });
}

void TestTrain::adamLrChangesTakeEffectNextStep()
{
    torch::Tensor w = torch::ones({ 2 }).requires_grad_(true);
    train::Adam adam({ { "w", w } }, {});
    adam.setLr(0.0);
    w.sum().backward();
    adam.step();
    QVERIFY(torch::equal(w, torch::ones({ 2 }))); // lr 0: no movement, though the moments advanced.
    adam.setLr(0.1);
    adam.zeroGrad();
    w.sum().backward();
    adam.step();
    // The first moving step of Adam moves every coordinate by ≈ lr against the gradient's sign.
    QVERIFY(torch::allclose(w, torch::full({ 2 }, 0.9f), 1e-4, 1e-5));
}

void TestTrain::adamStateRoundTrips()
{
    torch::Tensor w = torch::ones({ 3 }).requires_grad_(true);
    train::Adam adam({ { "layer.w", w } }, { 0.01 });
    for (int i = 0; i < 3; ++i) {
        adam.zeroGrad();
        (w * w).sum().backward();
        adam.step();
    }
    ScratchDir dir;
    io::writeSafetensors(dir / "state.safetensors", adam.state());

    torch::Tensor w2 = w.detach().clone().requires_grad_(true);
    train::Adam resumed({ { "layer.w", w2 } }, { 0.01 });
    resumed.loadState(io::SafetensorsFile(dir / "state.safetensors"));
    QCOMPARE(resumed.stepCount(), std::int64_t { 3 });
    for (auto* opt : { &adam, &resumed }) {
        opt->zeroGrad();
    }
    (w * w).sum().backward();
    adam.step();
    (w2 * w2).sum().backward();
    resumed.step();
    QVERIFY(torch::equal(w, w2)); // A resumed optimiser continues exactly where the first left off.

    torch::Tensor other = torch::ones({ 4 }).requires_grad_(true);
    train::Adam mismatched({ { "layer.w", other } }, {});
    LETHE_COMPARE_STR(errorMessage([&] { mismatched.loadState(io::SafetensorsFile(dir / "state.safetensors")); }),
        (dir / "state.safetensors").string() + ": tensor 'adam.exp_avg.layer.w': expected shape [4], found [3]");
}

QTEST_APPLESS_MAIN(TestTrain)
#include "test_train.moc"
