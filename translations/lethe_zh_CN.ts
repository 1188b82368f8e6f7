<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>lethe::gui</name>
    <message>
        <source>loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>L_f (forget)</source>
        <translation>L_f（遗忘）</translation>
    </message>
    <message>
        <source>L_r (remain)</source>
        <translation>L_r（保留）</translation>
    </message>
    <message>
        <source>cos(a, d)</source>
        <translation>cos(a, d)</translation>
    </message>
    <message>
        <source>projected</source>
        <translation>已投影</translation>
    </message>
    <message>
        <source>truncated (L_f &gt; α)</source>
        <translation>已截断（L_f &gt; α）</translation>
    </message>
    <message>
        <source>gradient norm</source>
        <translation>梯度范数</translation>
    </message>
    <message>
        <source>‖a‖ (forget)</source>
        <translation>‖a‖（遗忘）</translation>
    </message>
    <message>
        <source>‖d‖ (remain)</source>
        <translation>‖d‖（保留）</translation>
    </message>
    <message>
        <source>Losses</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>cos(a, d) and projection</source>
        <translation>cos(a, d) 与投影</translation>
    </message>
    <message>
        <source>Gradient norms</source>
        <translation>梯度范数</translation>
    </message>
    <message>
        <source>α → %1</source>
        <translation>α → %1</translation>
    </message>
    <message>
        <source>λ → %1</source>
        <translation>λ → %1</translation>
    </message>
    <message>
        <source>lr → %1</source>
        <translation>lr → %1</translation>
    </message>
</context>
<context>
    <name>lethe::gui::ClassTab</name>
    <message>
        <source>Model and data</source>
        <translation>模型与数据</translation>
    </message>
    <message>
        <source>Opening the built-in model …</source>
        <translation>正在打开内置模型…</translation>
    </message>
    <message>
        <source>Open &amp;model…</source>
        <translation>打开模型(&amp;M)…</translation>
    </message>
    <message>
        <source>Open a Lethe or converted EDM model</source>
        <translation>打开 Lethe 模型或转换后的 EDM 模型</translation>
    </message>
    <message>
        <source>Model files (*.safetensors)</source>
        <translation>模型文件 (*.safetensors)</translation>
    </message>
    <message>
        <source>Fashion-MNIST (built-in)</source>
        <translation>Fashion-MNIST（内置）</translation>
    </message>
    <message>
        <source>Open a folder (CIFAR-10 binary, IDX or image folder)…</source>
        <translation>打开文件夹（CIFAR-10 二进制、IDX 或图像文件夹）…</translation>
    </message>
    <message>
        <source>Open a data set folder</source>
        <translation>打开数据集文件夹</translation>
    </message>
    <message>
        <source>&amp;Data set:</source>
        <translation>数据集(&amp;D)：</translation>
    </message>
    <message>
        <source>&amp;Class to forget:</source>
        <translation>要遗忘的类别(&amp;C)：</translation>
    </message>
    <message>
        <source>Method and hyperparameters</source>
        <translation>方法与超参数</translation>
    </message>
    <message>
        <source>Measure &amp;before and after</source>
        <translation>测量遗忘前后指标(&amp;B)</translation>
    </message>
    <message>
        <source>UA, RA per class, FD_cls and KID_cls from generated images (takes minutes on a CPU)</source>
        <translation>基于生成图像计算 UA、各类别 RA、FD_cls 和 KID_cls（在 CPU 上需数分钟）</translation>
    </message>
    <message>
        <source> per class</source>
        <translation> 张/类</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>开始(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>暂停(&amp;P)</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>停止(&amp;T)</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>导出(&amp;E)…</translation>
    </message>
    <message>
        <source>&amp;Log scale</source>
        <translation>对数坐标(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;Fit</source>
        <translation>适应视图(&amp;F)</translation>
    </message>
    <message>
        <source>Export c&amp;urves…</source>
        <translation>导出曲线(&amp;U)…</translation>
    </message>
    <message>
        <source>Export the curves (PNG and CSV)</source>
        <translation>导出曲线（PNG 和 CSV）</translation>
    </message>
    <message>
        <source>PNG image (*.png)</source>
        <translation>PNG 图像 (*.png)</translation>
    </message>
    <message>
        <source>Export the curves</source>
        <translation>导出曲线</translation>
    </message>
    <message>
        <source>Could not write %1 or %2.</source>
        <translation>无法写入 %1 或 %2。</translation>
    </message>
    <message>
        <source>Wrote %1 and %2</source>
        <translation>已写入 %1 和 %2</translation>
    </message>
    <message>
        <source>Before</source>
        <translation>遗忘前</translation>
    </message>
    <message>
        <source>The base model&apos;s samples appear when a run starts.</source>
        <translation>基础模型的样本将在运行开始时显示。</translation>
    </message>
    <message>
        <source>The base model&apos;s samples are drawn when the run ends, and kept for the next runs with the same preview seeds.</source>
        <translation>基础模型的样本将在运行结束时生成，并保留给使用相同预览种子的后续运行。</translation>
    </message>
    <message>
        <source>After</source>
        <translation>遗忘后</translation>
    </message>
    <message>
        <source>The unlearned model&apos;s samples, from the same seeds, appear at each preview.</source>
        <translation>遗忘后模型使用相同种子生成的样本，将在每次预览时显示。</translation>
    </message>
    <message>
        <source>&amp;Difference ×4</source>
        <translation>差异 ×4(&amp;D)</translation>
    </message>
    <message>
        <source>Snapshot timeline</source>
        <translation>快照时间轴</translation>
    </message>
    <message>
        <source>no previews yet</source>
        <translation>暂无预览</translation>
    </message>
    <message>
        <source>Export this s&amp;napshot…</source>
        <translation>导出此快照(&amp;N)…</translation>
    </message>
    <message>
        <source>Before / after</source>
        <translation>前后对比</translation>
    </message>
    <message>
        <source>Metrics</source>
        <translation>指标</translation>
    </message>
    <message>
        <source>No model open.</source>
        <translation>未打开模型。</translation>
    </message>
    <message>
        <source>Could not open the model</source>
        <translation>无法打开模型</translation>
    </message>
    <message>
        <source>Open model</source>
        <translation>打开模型</translation>
    </message>
    <message>
        <source>rollback → %1</source>
        <translation>回滚 → %1</translation>
    </message>
    <message>
        <source>Step %1: %2; weights restored to step %3</source>
        <translation>第 %1 步：%2；权重已恢复到第 %3 步</translation>
    </message>
    <message>
        <source>Exported to %1</source>
        <translation>已导出到 %1</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>Opening %1 …</source>
        <translation>正在打开 %1…</translation>
    </message>
    <message>
        <source>the built-in model</source>
        <translation>内置模型</translation>
    </message>
    <message>
        <source>Ready: choose a class and press Start</source>
        <translation>就绪：请选择类别并点击“开始”</translation>
    </message>
    <message>
        <source>Unlearning %1 with %2</source>
        <translation>正在使用 %2 遗忘 %1</translation>
    </message>
    <message>
        <source>Paused after step %1: change α, λ or lr, export, or resume</source>
        <translation>已在第 %1 步后暂停：可修改 α、λ 或 lr，导出，或继续</translation>
    </message>
    <message>
        <source>Resumed</source>
        <translation>已继续</translation>
    </message>
    <message>
        <source>Stopping after the current step …</source>
        <translation>将在当前步完成后停止…</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>继续(&amp;R)</translation>
    </message>
    <message>
        <source>step %v of %m</source>
        <translation>第 %v / %m 步</translation>
    </message>
    <message>
        <source>: %v of %m</source>
        <translation>：%v / %m</translation>
    </message>
    <message>
        <source>%1 steps/s · ETA %2 · L_f %3 · L_r %4 · cos %5</source>
        <translation>%1 步/秒 · 剩余 %2 · L_f %3 · L_r %4 · cos %5</translation>
    </message>
    <message>
        <source>Difference ×4 at step %1</source>
        <translation>第 %1 步的差异 ×4</translation>
    </message>
    <message>
        <source>After step %1</source>
        <translation>第 %1 步后</translation>
    </message>
    <message>
        <source>step %1</source>
        <translation>第 %1 步</translation>
    </message>
    <message>
        <source>%1 from step %2</source>
        <translation>%1，自第 %2 步起生效</translation>
    </message>
    <message>
        <source>The run failed after %1 steps</source>
        <translation>运行在 %1 步后失败</translation>
    </message>
    <message>
        <source>Run failed</source>
        <translation>运行失败</translation>
    </message>
    <message>
        <source>Run %1 after %2 steps in %3 (%4 steps/s)%5</source>
        <translation>运行%1：共 %2 步，用时 %3（%4 步/秒）%5</translation>
    </message>
    <message>
        <source>finished</source>
        <translation>已完成</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>Export into a folder</source>
        <translation>导出到文件夹</translation>
    </message>
    <message>
        <source>Exporting to %1 …</source>
        <translation>正在导出到 %1…</translation>
    </message>
    <message>
        <source>%1, seed column %2</source>
        <translation>%1，种子列 %2</translation>
    </message>
    <message>
        <source>before</source>
        <translation>遗忘前</translation>
    </message>
    <message>
        <source>after step %1</source>
        <translation>第 %1 步后</translation>
    </message>
    <message>
        <source>difference ×4</source>
        <translation>差异 ×4</translation>
    </message>
    <message>
        <source>&amp;Instruments…</source>
        <translation>测量工具(&amp;I)…</translation>
    </message>
    <message>
        <source>Also measure with zero-shot CLIP (UA and RA) and FID, as published results are measured</source>
        <translation>另外使用零样本 CLIP（UA 和 RA）和 FID 进行测量，与已发表结果的测量方式一致</translation>
    </message>
    <message>
        <source>zero-shot CLIP (%1)</source>
        <translation>零样本 CLIP（%1）</translation>
    </message>
    <message>
        <source>FID (%1 against %2, %3 resize)</source>
        <translation>FID（%1 对照 %2，%3 缩放）</translation>
    </message>
    <message>
        <source>Also: %1</source>
        <translation>另外：%1</translation>
    </message>
    <message>
        <source>, </source>
        <translation>；</translation>
    </message>
    <message>
        <source> — measuring with %1</source>
        <translation> — 使用 %1 测量</translation>
    </message>
    <message>
        <source>Could not load the measuring instruments: the run was not started</source>
        <translation>无法加载测量工具：运行未启动</translation>
    </message>
    <message>
        <source>Loading the measuring instruments …</source>
        <translation>正在加载测量工具…</translation>
    </message>
    <message>
        <source>Ro&amp;bustness</source>
        <translation>稳健性(&amp;B)</translation>
    </message>
    <message>
        <source>The attack starts once the run has finished.</source>
        <translation>运行结束后才能开始攻击。</translation>
    </message>
    <message>
        <source>Run unlearning first: the attack needs the run&apos;s finished model.</source>
        <translation>请先运行遗忘：攻击需要该次运行完成后的模型。</translation>
    </message>
    <message>
        <source>The attack&apos;s judge is a classifier of the model&apos;s classes, and none was found for this model.</source>
        <translation>攻击的判定器是针对该模型各类别的分类器，但未找到适用于此模型的分类器。</translation>
    </message>
    <message>
        <source>Wait for the export to end.</source>
        <translation>请等待导出结束。</translation>
    </message>
    <message>
        <source>Attacking the unlearned model: does %1 stay forgotten?</source>
        <translation>正在攻击遗忘后模型：%1 是否仍被遗忘？</translation>
    </message>
    <message>
        <source>Robustness: %1</source>
        <translation>稳健性：%1</translation>
    </message>
</context>
<context>
    <name>lethe::gui::ConceptTab</name>
    <message>
        <source>Pro&amp;mpts</source>
        <translation>提示词(&amp;M)</translation>
    </message>
    <message>
        <source>C&amp;urves and samples</source>
        <translation>曲线与样本(&amp;U)</translation>
    </message>
    <message>
        <source>Text-to-image model</source>
        <translation>文生图模型</translation>
    </message>
    <message>
        <source>empty: the built-in Fashion model; or a diffusers folder or CompVis file</source>
        <translation>留空：内置 Fashion 模型；或 diffusers 文件夹或 CompVis 文件</translation>
    </message>
    <message>
        <source>Mo&amp;del:</source>
        <translation>模型(&amp;D)：</translation>
    </message>
    <message>
        <source>Folder…</source>
        <translation>文件夹…</translation>
    </message>
    <message>
        <source>Choose a diffusers folder (with model_index.json)</source>
        <translation>选择 diffusers 文件夹（含 model_index.json）</translation>
    </message>
    <message>
        <source>Open a diffusers folder</source>
        <translation>打开 diffusers 文件夹</translation>
    </message>
    <message>
        <source>File…</source>
        <translation>文件…</translation>
    </message>
    <message>
        <source>Choose a CompVis single .safetensors file</source>
        <translation>选择 CompVis 单个 .safetensors 文件</translation>
    </message>
    <message>
        <source>Open a CompVis single file</source>
        <translation>打开 CompVis 单文件</translation>
    </message>
    <message>
        <source>Model files (*.safetensors)</source>
        <translation>模型文件 (*.safetensors)</translation>
    </message>
    <message>
        <source>for a CompVis file: its tokenizer/configs folder</source>
        <translation>用于 CompVis 文件：其分词器与配置文件所在的文件夹</translation>
    </message>
    <message>
        <source>Com&amp;ponents:</source>
        <translation>组件(&amp;P)：</translation>
    </message>
    <message>
        <source>The components folder</source>
        <translation>组件文件夹</translation>
    </message>
    <message>
        <source>&amp;Open</source>
        <translation>打开(&amp;O)</translation>
    </message>
    <message>
        <source>No model open.</source>
        <translation>未打开模型。</translation>
    </message>
    <message>
        <source>Training images (drawn by the base model)</source>
        <translation>训练图像（由基础模型生成）</translation>
    </message>
    <message>
        <source>DDIM steps of the training and preview images</source>
        <translation>训练图像和预览图像的 DDIM 步数</translation>
    </message>
    <message>
        <source>Images drawn once are kept here (forget/ and remain/) and read again by the next press or run</source>
        <translation>已生成的图像保存在此处（forget/ 和 remain/），下次点击或运行时会重新读取</translation>
    </message>
    <message>
        <source>…</source>
        <translation>…</translation>
    </message>
    <message>
        <source>Choose the image cache folder</source>
        <translation>选择图像缓存文件夹</translation>
    </message>
    <message>
        <source>Image cache folder</source>
        <translation>图像缓存文件夹</translation>
    </message>
    <message>
        <source>Sampler s&amp;teps:</source>
        <translation>采样步数(&amp;T)：</translation>
    </message>
    <message>
        <source>&amp;Guidance:</source>
        <translation>引导强度(&amp;G)：</translation>
    </message>
    <message>
        <source>Images per &amp;batch:</source>
        <translation>每批图像数(&amp;B)：</translation>
    </message>
    <message>
        <source>Cac&amp;he folder:</source>
        <translation>缓存文件夹(&amp;H)：</translation>
    </message>
    <message>
        <source>&amp;Generate training images</source>
        <translation>生成训练图像(&amp;G)</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Not drawn yet.</source>
        <translation>尚未生成。</translation>
    </message>
    <message>
        <source>Method and hyperparameters</source>
        <translation>方法与超参数</translation>
    </message>
    <message>
        <source>Run and export</source>
        <translation>运行与导出</translation>
    </message>
    <message>
        <source>Ctrl+R</source>
        <translation>Ctrl+R</translation>
    </message>
    <message>
        <source>Ctrl+P</source>
        <translation>Ctrl+P</translation>
    </message>
    <message>
        <source>Ctrl+.</source>
        <translation>Ctrl+.</translation>
    </message>
    <message>
        <source>&amp;Export diffusers folder…</source>
        <translation>导出 diffusers 文件夹(&amp;E)…</translation>
    </message>
    <message>
        <source>Export &amp;CompVis file…</source>
        <translation>导出 CompVis 文件(&amp;C)…</translation>
    </message>
    <message>
        <source>Before</source>
        <translation>遗忘前</translation>
    </message>
    <message>
        <source>The base model&apos;s images of the checked prompts appear when a run starts.</source>
        <translation>所勾选提示词的基础模型图像将在运行开始时显示。</translation>
    </message>
    <message>
        <source>After</source>
        <translation>遗忘后</translation>
    </message>
    <message>
        <source>The unlearned model&apos;s images, from the same seeds, appear when the run ends.</source>
        <translation>遗忘后模型使用相同种子生成的图像，将在运行结束时显示。</translation>
    </message>
    <message>
        <source>Open a text-to-image model</source>
        <translation>打开文生图模型</translation>
    </message>
    <message>
        <source>%1 training images ready: %2 drawn now, %3 from the cache.</source>
        <translation>%1 张训练图像已就绪：本次生成 %2 张，来自缓存 %3 张。</translation>
    </message>
    <message>
        <source>training images: %p%</source>
        <translation>训练图像：%p%</translation>
    </message>
    <message>
        <source>Cancelled; the images drawn so far are cached and the next press goes on.</source>
        <translation>已取消；已生成的图像已缓存，下次点击将继续生成。</translation>
    </message>
    <message>
        <source>Generate training images</source>
        <translation>生成训练图像</translation>
    </message>
    <message>
        <source>Before (base model)</source>
        <translation>遗忘前（基础模型）</translation>
    </message>
    <message>
        <source>After step %1</source>
        <translation>第 %1 步后</translation>
    </message>
    <message>
        <source>Opening %1 …</source>
        <translation>正在打开 %1…</translation>
    </message>
    <message>
        <source>the built-in model</source>
        <translation>内置模型</translation>
    </message>
    <message>
        <source>The forget set is empty: type forget prompts, load a prompt file or build them from a preset.</source>
        <translation>遗忘集为空：请输入遗忘提示词、加载提示词文件，或从预设构建。</translation>
    </message>
    <message>
        <source>Choose a folder for the training-image cache.</source>
        <translation>请为训练图像缓存选择一个文件夹。</translation>
    </message>
    <message>
        <source>Drawing the training images (cached in %1)</source>
        <translation>正在生成训练图像（缓存于 %1）</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <source>Before / after seeds</source>
        <translation>前后对比种子</translation>
    </message>
    <message>
        <source>Unlearning with %1: %2 forget and %3 remain prompts</source>
        <translation>正在使用 %1 遗忘：%2 条遗忘提示词，%3 条保留提示词</translation>
    </message>
    <message>
        <source>Paused after step %1: change α, λ or lr, or resume</source>
        <translation>已在第 %1 步后暂停：可修改 α、λ 或 lr，或继续</translation>
    </message>
    <message>
        <source>Export as a CompVis single file</source>
        <translation>导出为 CompVis 单文件</translation>
    </message>
    <message>
        <source>Export as a diffusers folder (a new folder)</source>
        <translation>导出为 diffusers 文件夹（新文件夹）</translation>
    </message>
    <message>
        <source>Exporting …</source>
        <translation>正在导出…</translation>
    </message>
    <message>
        <source>Opened %1 (preset %2): fill the prompt sets, then generate the training images or press Start</source>
        <translation>已打开 %1（预设 %2）：请填写提示词集，然后生成训练图像或点击“开始”</translation>
    </message>
    <message>
        <source>%1: %v of %m (%p%)</source>
        <translation>%1：%v / %m（%p%）</translation>
    </message>
    <message>
        <source>%1 of %2 · %3/s · ETA %4</source>
        <translation>%1 / %2 · %3/秒 · 剩余 %4</translation>
    </message>
    <message>
        <source>%1 steps/s · ETA %2 · L_f %3 · L_r %4 · cos %5%6</source>
        <translation>%1 步/秒 · 剩余 %2 · L_f %3 · L_r %4 · cos %5%6</translation>
    </message>
    <message>
        <source> · truncated</source>
        <translation> · 已截断</translation>
    </message>
    <message>
        <source>%1 steps in %2 · %3 steps/s (stepping only) · L_f %4 · L_r %5</source>
        <translation>%1 步，用时 %2 · %3 步/秒（仅计训练步） · L_f %4 · L_r %5</translation>
    </message>
    <message>
        <source>The run failed after %1 steps</source>
        <translation>运行在 %1 步后失败</translation>
    </message>
    <message>
        <source>Run failed</source>
        <translation>运行失败</translation>
    </message>
    <message>
        <source>Run %1 after %2 steps in %3%4</source>
        <translation>运行%1：共 %2 步，用时 %3%4</translation>
    </message>
    <message>
        <source>Measures</source>
        <translation>测量</translation>
    </message>
    <message>
        <source>Choose a CLIP model folder</source>
        <translation>选择 CLIP 模型文件夹</translation>
    </message>
    <message>
        <source>optional: a CLIP model folder</source>
        <translation>可选：CLIP 模型文件夹</translation>
    </message>
    <message>
        <source>CLIP alignment (cosine of image and prompt embeddings) of D_f, D_r,train and D_r,test, drawn at the before/after seeds by the base model and by the unlearned one</source>
        <translation>D_f、D_r,train 和 D_r,test 的 CLIP 对齐度（图像与提示词嵌入的余弦相似度），图像由基础模型和遗忘后模型以前后对比种子生成</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>The first prompts of each set drawn for CLIP, each at every before/after seed</source>
        <translation>每个集合中用于 CLIP 生成图像的前若干条提示词，每条都使用每个前后对比种子生成</translation>
    </message>
    <message>
        <source>CL&amp;IP model:</source>
        <translation>CLIP 模型(&amp;I)：</translation>
    </message>
    <message>
        <source>prompts per set:</source>
        <translation>每集提示词数：</translation>
    </message>
    <message>
        <source>Choose a CLIP model under Measures: each run then measures the CLIP alignment (cosine of image and prompt embeddings) of the prompt sets before and after, from the before/after seeds.</source>
        <translation>请在“测量”中选择 CLIP 模型：之后每次运行都会使用前后对比种子，测量各提示词集在遗忘前后的 CLIP 对齐度（图像与提示词嵌入的余弦相似度）。</translation>
    </message>
    <message>
        <source>Prompt set</source>
        <translation>提示词集</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>图像</translation>
    </message>
    <message>
        <source>D_f (forget)</source>
        <translation>D_f（遗忘）</translation>
    </message>
    <message>
        <source>D_r,train</source>
        <translation>D_r,train</translation>
    </message>
    <message>
        <source>D_r,test</source>
        <translation>D_r,test</translation>
    </message>
    <message>
        <source>D_r (train and test)</source>
        <translation>D_r（训练与测试）</translation>
    </message>
    <message>
        <source>%1 (%2 prompts)</source>
        <translation>%1（%2 条提示词）</translation>
    </message>
    <message>
        <source>%1 %2 → %3</source>
        <translation>%1 %2 → %3</translation>
    </message>
    <message>
        <source>D_f</source>
        <translation>D_f</translation>
    </message>
    <message>
        <source>D_r</source>
        <translation>D_r</translation>
    </message>
    <message>
        <source>CLIP alignment of the last run (cosine of image and prompt embeddings), before → after:</source>
        <translation>上次运行的 CLIP 对齐度（图像与提示词嵌入的余弦相似度），遗忘前 → 遗忘后：</translation>
    </message>
    <message>
        <source>CLIP alignment %1</source>
        <translation>CLIP 对齐度 %1</translation>
    </message>
    <message>
        <source>CLIP alignment</source>
        <translation>CLIP 对齐度</translation>
    </message>
    <message>
        <source>CLIP model</source>
        <translation>CLIP 模型</translation>
    </message>
    <message>
        <source>Loading the CLIP model %1 …</source>
        <translation>正在加载 CLIP 模型 %1…</translation>
    </message>
    <message>
        <source> · </source>
        <translation> · </translation>
    </message>
    <message>
        <source>Ro&amp;bustness</source>
        <translation>稳健性(&amp;B)</translation>
    </message>
    <message>
        <source>The attack starts once the run has finished.</source>
        <translation>运行结束后才能开始攻击。</translation>
    </message>
    <message>
        <source>Run unlearning first: the attack needs the run&apos;s finished model.</source>
        <translation>请先运行遗忘：攻击需要该次运行完成后的模型。</translation>
    </message>
    <message>
        <source>Wait for the work under way to end.</source>
        <translation>请等待当前任务结束。</translation>
    </message>
    <message>
        <source>Attack</source>
        <translation>攻击</translation>
    </message>
    <message>
        <source>The last run had no forget prompts to attack.</source>
        <translation>上次运行没有可供攻击的遗忘提示词。</translation>
    </message>
    <message>
        <source>Attacking the unlearned model with %1 of the run&apos;s forget prompts: does &quot;%2&quot; stay forgotten?</source>
        <translation>正在使用该次运行的 %1 条遗忘提示词攻击遗忘后模型：“%2”是否仍被遗忘？</translation>
    </message>
    <message>
        <source>Attack success rate (Pre-ASR → Post-ASR)</source>
        <translation>攻击成功率（Pre-ASR → Post-ASR）</translation>
    </message>
    <message>
        <source>%1 (%2 prompts × %3 seeds)</source>
        <translation>%1（%2 条提示词 × %3 个种子）</translation>
    </message>
    <message>
        <source>The remain set is empty: %1 needs remain prompts (or choose ESD or UCE).</source>
        <translation>保留集为空：%1 需要保留提示词（或选择 ESD 或 UCE）。</translation>
    </message>
    <message>
        <source>UCE edits the concept&apos;s words: type them under Concept words on the Prompts page (several concepts separated by commas).</source>
        <translation>UCE 编辑的是概念的词：请在“提示词”页的“概念词”中输入（多个概念以逗号分隔）。</translation>
    </message>
    <message>
        <source>UCE edit
L_f %1
L_r %2</source>
        <translation>UCE 编辑
L_f %1
L_r %2</translation>
    </message>
    <message>
        <source>UCE edit
(closed form:
no gradients)</source>
        <translation>UCE 编辑
（闭式解：
无梯度）</translation>
    </message>
    <message>
        <source>Memory: open a model for an estimate.</source>
        <translation>内存：打开模型后给出估计。</translation>
    </message>
    <message>
        <source>Not enough memory</source>
        <translation>内存不足</translation>
    </message>
    <message>
        <source>The run does not start: %1.

In this window those settings are Precision, Gradient checkpointing, Memory-efficient attention, Parameters and the batches under Method and hyperparameters; they are as you left them.</source>
        <translation>运行未开始：%1。

在本窗口中，这些设置是“方法与超参数”下的精度、梯度检查点、省内存注意力、参数和批大小；它们保持原样。</translation>
    </message>
    <message>
        <source>%1: %2 (%p%)</source>
        <translation>%1：%2（%p%）</translation>
    </message>
    <message>
        <source>%1 · ETA %2</source>
        <translation>%1 · 剩余 %2</translation>
    </message>
    <message>
        <source>Opened %1 (preset %2) with the prompt sets of %3, forgetting &quot;%4&quot;: press Start</source>
        <translation>已打开 %1（预设 %2），提示词集来自 %3，要遗忘的概念：“%4”：点击“开始”</translation>
    </message>
</context>
<context>
    <name>lethe::gui::ConceptWorker</name>
    <message>
        <source>RGD (restricted gradient, diverse remain set)</source>
        <translation>RGD（受限梯度，多样化保留集）</translation>
    </message>
    <message>
        <source>GradDiff</source>
        <translation>GradDiff</translation>
    </message>
    <message>
        <source>GA (gradient ascent)</source>
        <translation>GA（梯度上升）</translation>
    </message>
    <message>
        <source>ESD (erased stable diffusion)</source>
        <translation>ESD（概念擦除的 Stable Diffusion）</translation>
    </message>
    <message>
        <source>All UNet parameters</source>
        <translation>全部 UNet 参数</translation>
    </message>
    <message>
        <source>Cross-attention only (ESD-x)</source>
        <translation>仅交叉注意力（ESD-x）</translation>
    </message>
    <message>
        <source>Opening %1</source>
        <translation>正在打开 %1</translation>
    </message>
    <message>
        <source>%1 (%2) — UNet %3 parameters, %4×%4 images, %5; configs from %6</source>
        <translation>%1（%2）— UNet %3 个参数，%4×%4 图像，%5；配置来自 %6</translation>
    </message>
    <message>
        <source>latent</source>
        <translation>潜空间</translation>
    </message>
    <message>
        <source>pixel space</source>
        <translation>像素空间</translation>
    </message>
    <message>
        <source>Drawing the forget images</source>
        <translation>正在生成遗忘图像</translation>
    </message>
    <message>
        <source>Drawing the remain images</source>
        <translation>正在生成保留图像</translation>
    </message>
    <message>
        <source>Stopped while drawing the training images (those drawn are cached).</source>
        <translation>生成训练图像时已停止（已生成的图像已缓存）。</translation>
    </message>
    <message>
        <source>Drawing the base model&apos;s previews (sampler steps)</source>
        <translation>正在生成基础模型的预览（按采样步计）</translation>
    </message>
    <message>
        <source>Stopped while drawing the base model&apos;s previews.</source>
        <translation>生成基础模型的预览时已停止。</translation>
    </message>
    <message>
        <source>Drawing the unlearned model&apos;s previews</source>
        <translation>正在生成遗忘后模型的预览</translation>
    </message>
    <message>
        <source>Writing the diffusers folder %1</source>
        <translation>正在写入 diffusers 文件夹 %1</translation>
    </message>
    <message>
        <source>Writing the CompVis file %1</source>
        <translation>正在写入 CompVis 文件 %1</translation>
    </message>
    <message>
        <source>All but cross-attention</source>
        <translation>除交叉注意力外的全部参数</translation>
    </message>
    <message>
        <source>ESD-u (all but cross-attention, time embedding and output layers)</source>
        <translation>ESD-u（除交叉注意力、时间嵌入和输出层外的全部参数）</translation>
    </message>
    <message>
        <source>Loading the CLIP model %1</source>
        <translation>正在加载 CLIP 模型 %1</translation>
    </message>
    <message>
        <source>Drawing the base model&apos;s %1 images for CLIP</source>
        <translation>正在为 CLIP 生成基础模型的 %1 图像</translation>
    </message>
    <message>
        <source>Stopped while drawing the base model&apos;s images for CLIP.</source>
        <translation>为 CLIP 生成基础模型图像时已停止。</translation>
    </message>
    <message>
        <source>Drawing the unlearned model&apos;s %1 images for CLIP</source>
        <translation>正在为 CLIP 生成遗忘后模型的 %1 图像</translation>
    </message>
    <message>
        <source>RG (restricted gradient, plain remain set)</source>
        <translation>RG（受限梯度，普通保留集）</translation>
    </message>
    <message>
        <source>SalUn (saliency-masked relabelling)</source>
        <translation>SalUn（显著性掩码下的重新标注）</translation>
    </message>
    <message>
        <source>UCE (closed-form cross-attention edit)</source>
        <translation>UCE（交叉注意力的闭式编辑）</translation>
    </message>
    <message>
        <source>Memory: about %1 at a step&apos;s peak (%2 in the first step) on %3; free memory unknown</source>
        <translation>内存：每步峰值约 %1（第一步 %2），在 %3 上；可用内存未知</translation>
    </message>
    <message>
        <source>Memory: about %1 at a step&apos;s peak (%2 in the first step), more than the %3 free on %4</source>
        <translation>内存：每步峰值约 %1（第一步 %2），超过 %4 上可用的 %3</translation>
    </message>
    <message>
        <source>Memory: about %1 at a step&apos;s peak (%2 in the first step) of %3 free on %4</source>
        <translation>内存：每步峰值约 %1（第一步 %2），%4 上可用 %3</translation>
    </message>
    <message>
        <source>Memory: no estimate (%1)</source>
        <translation>内存：无估计（%1）</translation>
    </message>
    <message>
        <source>%1 of %2 images</source>
        <translation>%1 / %2 张图像</translation>
    </message>
    <message>
        <source>images %1–%2 of %3</source>
        <translation>图像 %1–%2 / %3</translation>
    </message>
    <message>
        <source>image %1 of %2</source>
        <translation>图像 %1 / %2</translation>
    </message>
    <message>
        <source>%1, step %2/%3</source>
        <translation>%1，第 %2/%3 步</translation>
    </message>
</context>
<context>
    <name>lethe::gui::InstrumentsDialog</name>
    <message>
        <source>Measuring instruments</source>
        <translation>测量工具</translation>
    </message>
    <message>
        <source>Besides Lethe&apos;s classifier, the measures can use the instruments published results are measured with, on the same images. Each is optional; the user guide says where the weights come from.</source>
        <translation>除 Lethe 自带的分类器外，测量还可以在相同图像上使用已发表结果所用的测量工具。每项均为可选；权重的获取方式请参阅用户指南。</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <source>Choose a CLIP model folder</source>
        <translation>选择 CLIP 模型文件夹</translation>
    </message>
    <message>
        <source>A CLIP model folder (Hugging Face layout: config.json, model.safetensors, the tokenizer files), e.g. openai/clip-vit-base-patch32: UA and RA by zero-shot CLIP, as the RGD paper measures them</source>
        <translation>CLIP 模型文件夹（Hugging Face 布局：config.json、model.safetensors 及分词器文件），例如 openai/clip-vit-base-patch32：按 RGD 论文的方式，用零样本 CLIP 测量 UA 和 RA</translation>
    </message>
    <message>
        <source>Choose FID&apos;s Inception-v3 detector</source>
        <translation>选择 FID 的 Inception-v3 检测器</translation>
    </message>
    <message>
        <source>Safetensors files (*.safetensors)</source>
        <translation>Safetensors 文件 (*.safetensors)</translation>
    </message>
    <message>
        <source>FID&apos;s Inception-v3 detector (from scripts/inception_to_safetensors.py): FID of the remaining classes and of the forgotten class; needs the reference statistics</source>
        <translation>FID 的 Inception-v3 检测器（由 scripts/inception_to_safetensors.py 生成）：计算保留类别和被遗忘类别的 FID；需要参考统计量</translation>
    </message>
    <message>
        <source>Choose FID&apos;s reference statistics</source>
        <translation>选择 FID 参考统计量</translation>
    </message>
    <message>
        <source>NumPy archives (*.npz)</source>
        <translation>NumPy 归档 (*.npz)</translation>
    </message>
    <message>
        <source>The real images&apos; statistics FID compares with (mu and sigma: EDM&apos;s fid-refs, or lethe-cli fid-ref)</source>
        <translation>FID 所比较的真实图像统计量（mu 和 sigma：EDM 的 fid-refs，或 lethe-cli fid-ref）</translation>
    </message>
    <message>
        <source>edm (EDM&apos;s fid.py)</source>
        <translation>edm（EDM 的 fid.py）</translation>
    </message>
    <message>
        <source>pytorch-fid</source>
        <translation>pytorch-fid</translation>
    </message>
    <message>
        <source>How images reach Inception&apos;s 299×299 input</source>
        <translation>图像如何缩放到 Inception 的 299×299 输入</translation>
    </message>
    <message>
        <source>&amp;CLIP model folder:</source>
        <translation>CLIP 模型文件夹(&amp;C)：</translation>
    </message>
    <message>
        <source>&amp;Inception detector:</source>
        <translation>Inception 检测器(&amp;I)：</translation>
    </message>
    <message>
        <source>FID &amp;reference statistics:</source>
        <translation>FID 参考统计量(&amp;R)：</translation>
    </message>
    <message>
        <source>FID re&amp;size:</source>
        <translation>FID 缩放方式(&amp;S)：</translation>
    </message>
</context>
<context>
    <name>lethe::gui::MainWindow</name>
    <message>
        <source>Lethe — unlearning workbench</source>
        <translation>Lethe — 遗忘学习工作台</translation>
    </message>
    <message>
        <source>Open a Lethe or converted EDM model</source>
        <translation>打开 Lethe 模型或转换后的 EDM 模型</translation>
    </message>
    <message>
        <source>Model files (*.safetensors)</source>
        <translation>模型文件 (*.safetensors)</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>开始(&amp;S)</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>停止(&amp;T)</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>导出(&amp;E)…</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Open model…</source>
        <translation>打开模型(&amp;O)…</translation>
    </message>
    <message>
        <source>Open the &amp;built-in model</source>
        <translation>打开内置模型(&amp;B)</translation>
    </message>
    <message>
        <source>&amp;Recent models</source>
        <translation>最近使用的模型(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>运行(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Pause / resume</source>
        <translation>暂停/继续(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Settings</source>
        <translation>设置(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Language</source>
        <translation>语言(&amp;L)</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>The new language applies when Lethe starts again.</source>
        <translation>新语言将在下次启动 Lethe 时生效。</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;About Lethe</source>
        <translation>关于 Lethe(&amp;A)</translation>
    </message>
    <message>
        <source>About Lethe</source>
        <translation>关于 Lethe</translation>
    </message>
    <message>
        <source>&lt;b&gt;Lethe %1&lt;/b&gt;&lt;p&gt;A workbench for machine unlearning in diffusion models: RGD (restricted gradient with a diverse remain set) and its baselines GA, GradDiff, RG and SalUn.&lt;/p&gt;</source>
        <translation>&lt;b&gt;Lethe %1&lt;/b&gt;&lt;p&gt;扩散模型机器遗忘学习工作台：RGD（基于多样化保留集的受限梯度）及其基线方法 GA、GradDiff、RG 和 SalUn。&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Stopping the run before closing …</source>
        <translation>正在停止运行，随后关闭…</translation>
    </message>
    <message>
        <source>C&amp;lass</source>
        <translation>类别(&amp;L)</translation>
    </message>
    <message>
        <source>Co&amp;ncept</source>
        <translation>概念(&amp;N)</translation>
    </message>
    <message>
        <source>Lo&amp;g</source>
        <translation>日志(&amp;G)</translation>
    </message>
    <message>
        <source>Class unlearning of a class-conditional model</source>
        <translation>类条件模型的类别遗忘</translation>
    </message>
    <message>
        <source>Concept unlearning of a text-to-image model</source>
        <translation>文生图模型的概念遗忘</translation>
    </message>
    <message>
        <source>What the program reports</source>
        <translation>程序输出的信息</translation>
    </message>
    <message>
        <source>Stopping the concept run before closing …</source>
        <translation>正在停止概念运行，随后关闭…</translation>
    </message>
</context>
<context>
    <name>lethe::gui::PreviewChoice</name>
    <message>
        <source>Before / after prompts</source>
        <translation>前后对比提示词</translation>
    </message>
    <message>
        <source>Checked prompts are drawn before and after, one column per seed</source>
        <translation>勾选的提示词将在遗忘前后各生成图像，每个种子一列</translation>
    </message>
    <message>
        <source>Prompts of the before/after grids</source>
        <translation>前后对比网格的提示词</translation>
    </message>
    <message>
        <source>Seeds of the columns, e.g. 0-3 or 1,5</source>
        <translation>各列的种子，例如 0-3 或 1,5</translation>
    </message>
    <message>
        <source>only at the end</source>
        <translation>仅在结束时</translation>
    </message>
    <message>
        <source>Draw the &quot;after&quot; grid every N steps during the run (0: only at the end)</source>
        <translation>运行期间每 N 步生成一次“遗忘后”网格（0：仅在结束时）</translation>
    </message>
    <message>
        <source>Seeds:</source>
        <translation>种子：</translation>
    </message>
    <message>
        <source>After every:</source>
        <translation>每隔（步）：</translation>
    </message>
    <message>
        <source>forget: %1</source>
        <translation>遗忘：%1</translation>
    </message>
    <message>
        <source>remain: %1</source>
        <translation>保留：%1</translation>
    </message>
    <message>
        <source>The seeds &apos;%1&apos; are not a list like 0-3 or 1,5 (at most 65 in a range).</source>
        <translation>种子“%1”不是形如 0-3 或 1,5 的列表（一个范围内最多 65 个）。</translation>
    </message>
</context>
<context>
    <name>lethe::gui::PromptSetsEditor</name>
    <message>
        <source>Prompt</source>
        <translation>提示词</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>种子</translation>
    </message>
    <message>
        <source>Case</source>
        <translation>案例</translation>
    </message>
    <message>
        <source>Forget prompts</source>
        <translation>遗忘提示词</translation>
    </message>
    <message>
        <source>Remain prompts (training)</source>
        <translation>保留提示词（训练）</translation>
    </message>
    <message>
        <source>Remain prompts (held-out test)</source>
        <translation>保留提示词（留出测试）</translation>
    </message>
    <message>
        <source>&amp;Add</source>
        <translation>添加(&amp;A)</translation>
    </message>
    <message>
        <source>Add a prompt row and start typing it</source>
        <translation>添加一行提示词并开始输入</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>删除(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Load…</source>
        <translation>加载(&amp;L)…</translation>
    </message>
    <message>
        <source>Load a prompt set</source>
        <translation>加载提示词集</translation>
    </message>
    <message>
        <source>Prompt sets (*.json *.csv);;All files (*)</source>
        <translation>提示词集 (*.json *.csv);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Sa&amp;ve…</source>
        <translation>保存(&amp;V)…</translation>
    </message>
    <message>
        <source>Save the prompt set</source>
        <translation>保存提示词集</translation>
    </message>
    <message>
        <source>JSON prompt list (*.json)</source>
        <translation>JSON 提示词列表 (*.json)</translation>
    </message>
    <message>
        <source>Diversity builder</source>
        <translation>多样性构建器</translation>
    </message>
    <message>
        <source>Load pre&amp;set…</source>
        <translation>加载预设(&amp;S)…</translation>
    </message>
    <message>
        <source>Load a diversity preset</source>
        <translation>加载多样性预设</translation>
    </message>
    <message>
        <source>Diversity presets (*.json);;All files (*)</source>
        <translation>多样性预设 (*.json);;所有文件 (*)</translation>
    </message>
    <message>
        <source>no preset loaded</source>
        <translation>未加载预设</translation>
    </message>
    <message>
        <source>Dimension</source>
        <translation>维度</translation>
    </message>
    <message>
        <source>Training values</source>
        <translation>训练取值</translation>
    </message>
    <message>
        <source>Held-out test values</source>
        <translation>留出测试取值</translation>
    </message>
    <message>
        <source>Values separated by commas; no test values = shared by all splits</source>
        <translation>以逗号分隔的取值；无测试取值 = 所有划分共用</translation>
    </message>
    <message>
        <source>Dimensions</source>
        <translation>维度</translation>
    </message>
    <message>
        <source>Add dimension</source>
        <translation>添加维度</translation>
    </message>
    <message>
        <source>Remove dimension</source>
        <translation>删除维度</translation>
    </message>
    <message>
        <source>a photo of a {colour} {object}</source>
        <translation>a photo of a {colour} {object}</translation>
    </message>
    <message>
        <source>empty: the remain template with {concept} for the concept dimension</source>
        <translation>留空：使用保留模板，并以 {concept} 表示概念维度</translation>
    </message>
    <message>
        <source>words separated by commas, e.g. sneaker</source>
        <translation>以逗号分隔的词，例如 sneaker</translation>
    </message>
    <message>
        <source>optional: the dimension the words belong to</source>
        <translation>可选：这些词所属的维度</translation>
    </message>
    <message>
        <source>D_f</source>
        <translation>D_f</translation>
    </message>
    <message>
        <source>D_r,train</source>
        <translation>D_r,train</translation>
    </message>
    <message>
        <source>D_r,test</source>
        <translation>D_r,test</translation>
    </message>
    <message>
        <source>Remain &amp;template:</source>
        <translation>保留模板(&amp;T)：</translation>
    </message>
    <message>
        <source>Forget template:</source>
        <translation>遗忘模板：</translation>
    </message>
    <message>
        <source>Concept &amp;words:</source>
        <translation>概念词(&amp;W)：</translation>
    </message>
    <message>
        <source>Concept dimension:</source>
        <translation>概念维度：</translation>
    </message>
    <message>
        <source>Counts:</source>
        <translation>数量：</translation>
    </message>
    <message>
        <source>Builder seed:</source>
        <translation>构建器种子：</translation>
    </message>
    <message>
        <source>&amp;Build D_f, D_r,train, D_r,test</source>
        <translation>构建 D_f、D_r,train、D_r,test(&amp;B)</translation>
    </message>
    <message>
        <source>%1, row %2: the seed &apos;%3&apos; is not a non-negative whole number</source>
        <translation>%1，第 %2 行：种子“%3”不是非负整数</translation>
    </message>
    <message>
        <source>Loaded %1 prompts from %2</source>
        <translation>已从 %2 加载 %1 条提示词</translation>
    </message>
    <message>
        <source>The prompts of %1 were not loaded; the table keeps what it had.

%2</source>
        <translation>未加载 %1 中的提示词；表格保留原有内容。

%2</translation>
    </message>
    <message>
        <source>Saved %1 prompts to %2</source>
        <translation>已将 %1 条提示词保存到 %2</translation>
    </message>
    <message>
        <source>%1 was not written.

%2</source>
        <translation>未写入 %1。

%2</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1（%2）</translation>
    </message>
    <message>
        <source>Loaded the preset %1: press Build to make the prompt sets</source>
        <translation>已加载预设 %1：点击“构建”生成提示词集</translation>
    </message>
    <message>
        <source>The preset %1 was not loaded; the builder keeps what it had.

%2</source>
        <translation>未加载预设 %1；构建器保留原有内容。

%2</translation>
    </message>
    <message>
        <source>D_f %1, D_r,train %2, D_r,test %3 prompts (of %4, %5 and %6 distinct)</source>
        <translation>D_f %1 条、D_r,train %2 条、D_r,test %3 条提示词（其中不同的分别为 %4、%5、%6 条）</translation>
    </message>
    <message>
        <source>Not built.</source>
        <translation>尚未构建。</translation>
    </message>
    <message>
        <source>Build the prompt sets</source>
        <translation>构建提示词集</translation>
    </message>
    <message>
        <source>The prompt sets were not built; they keep what they had.

%1</source>
        <translation>未构建提示词集；它们保留原有内容。

%1</translation>
    </message>
    <message>
        <source>&amp;Forget (D_f)</source>
        <translation>遗忘（D_f）(&amp;F)</translation>
    </message>
    <message>
        <source>Remain (D_r,&amp;train)</source>
        <translation>保留（D_r,train）(&amp;T)</translation>
    </message>
    <message>
        <source>Remain (D_r,te&amp;st)</source>
        <translation>保留（D_r,test）(&amp;S)</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1：%2</translation>
    </message>
</context>
<context>
    <name>lethe::gui::RobustnessPanel</name>
    <message>
        <source>Run unlearning first: the attack needs the run&apos;s finished model.</source>
        <translation>请先运行遗忘：攻击需要该次运行完成后的模型。</translation>
    </message>
    <message>
        <source>Attack</source>
        <translation>攻击</translation>
    </message>
    <message>
        <source>UnlearnDiffAtk (hard prompt)</source>
        <translation>UnlearnDiffAtk（硬提示词）</translation>
    </message>
    <message>
        <source>Soft prompt (upper bound)</source>
        <translation>软提示词（上界）</translation>
    </message>
    <message>
        <source>UnlearnDiffAtk looks for K real tokens a user could type before the prompt; the soft prompt optimises K free embeddings, a bound on what any K tokens could do</source>
        <translation>UnlearnDiffAtk 搜索用户可以输入在提示词之前的 K 个真实词元；软提示词则优化 K 个自由嵌入，给出任意 K 个词元所能达到效果的上界</translation>
    </message>
    <message>
        <source>Class attack (label vector)</source>
        <translation>类别攻击（标签向量）</translation>
    </message>
    <message>
        <source>Optimises a continuous label vector, started at the forgotten class, so that the unlearned model draws the base model&apos;s images of that class again</source>
        <translation>从被遗忘类别出发优化一个连续的标签向量，使遗忘后模型重新生成基础模型中该类别的图像</translation>
    </message>
    <message>
        <source>&amp;Attack:</source>
        <translation>攻击方式(&amp;A)：</translation>
    </message>
    <message>
        <source>Optimisation steps per prompt</source>
        <translation>每条提示词的优化步数</translation>
    </message>
    <message>
        <source>AdamW&apos;s learning rate (weight decay 0.1)</source>
        <translation>AdamW 学习率（权重衰减 0.1）</translation>
    </message>
    <message>
        <source>Adam&apos;s learning rate</source>
        <translation>Adam 学习率</translation>
    </message>
    <message>
        <source>Diffusion timesteps averaged in each step&apos;s loss</source>
        <translation>每步损失中取平均的扩散时间步数</translation>
    </message>
    <message>
        <source>The first forget prompts of the run are attacked</source>
        <translation>攻击该次运行的前若干条遗忘提示词</translation>
    </message>
    <message>
        <source>Images per prompt the judge reads, before and after the attack</source>
        <translation>判定器在攻击前后对每条提示词读取的图像数</translation>
    </message>
    <message>
        <source>Images of the concept the base model draws for the attack</source>
        <translation>基础模型为攻击生成的该概念图像数</translation>
    </message>
    <message>
        <source>&amp;Remove the concept word from the prompts</source>
        <translation>从提示词中删除概念词(&amp;R)</translation>
    </message>
    <message>
        <source>The attacked prompts lose the concept&apos;s words while the targets still show it: is the attack real, or does the prompt alone bring the concept back?</source>
        <translation>被攻击的提示词去掉概念词，而目标图像仍显示该概念：攻击是否真正有效，还是仅凭提示词本身就能让概念重现？</translation>
    </message>
    <message>
        <source>&amp;Tokens K:</source>
        <translation>词元数 K(&amp;K)：</translation>
    </message>
    <message>
        <source>S&amp;teps:</source>
        <translation>步数(&amp;T)：</translation>
    </message>
    <message>
        <source>&amp;Learning rate:</source>
        <translation>学习率(&amp;L)：</translation>
    </message>
    <message>
        <source>Ti&amp;mesteps per step:</source>
        <translation>每步时间步数(&amp;P)：</translation>
    </message>
    <message>
        <source>&amp;Prompts to attack:</source>
        <translation>攻击的提示词数(&amp;M)：</translation>
    </message>
    <message>
        <source>&amp;Judge seeds:</source>
        <translation>判定种子数(&amp;J)：</translation>
    </message>
    <message>
        <source>Target &amp;images:</source>
        <translation>目标图像数(&amp;I)：</translation>
    </message>
    <message>
        <source>Start atta&amp;ck</source>
        <translation>开始攻击(&amp;G)</translation>
    </message>
    <message>
        <source>Ca&amp;ncel</source>
        <translation>取消(&amp;N)</translation>
    </message>
    <message>
        <source>Cancelling the attack …</source>
        <translation>正在取消攻击…</translation>
    </message>
    <message>
        <source>attack loss</source>
        <translation>攻击损失</translation>
    </message>
    <message>
        <source>loss</source>
        <translation>损失</translation>
    </message>
    <message>
        <source>No attack yet.</source>
        <translation>尚未进行攻击。</translation>
    </message>
    <message>
        <source>Prompt</source>
        <translation>提示词</translation>
    </message>
    <message>
        <source>Adversarial prompt</source>
        <translation>对抗提示词</translation>
    </message>
    <message>
        <source>Pre</source>
        <translation>Pre</translation>
    </message>
    <message>
        <source>Post</source>
        <translation>Post</translation>
    </message>
    <message>
        <source>Class</source>
        <translation>类别</translation>
    </message>
    <message>
        <source>Label vector</source>
        <translation>标签向量</translation>
    </message>
    <message>
        <source>Pre and Post: the share of the judge seeds&apos; images showing the concept, from the plain prompt and from the adversarial one</source>
        <translation>Pre 和 Post：判定种子生成的图像中显示该概念的比例，分别来自原始提示词和对抗提示词</translation>
    </message>
    <message>
        <source>Plain prompts</source>
        <translation>原始提示词</translation>
    </message>
    <message>
        <source>Plain label</source>
        <translation>原始标签</translation>
    </message>
    <message>
        <source>The unlearned model&apos;s images of the plain prompts appear when an attack ends.</source>
        <translation>遗忘后模型根据原始提示词生成的图像将在攻击结束时显示。</translation>
    </message>
    <message>
        <source>Adversarial prompts</source>
        <translation>对抗提示词</translation>
    </message>
    <message>
        <source>Adversarial label</source>
        <translation>对抗标签</translation>
    </message>
    <message>
        <source>Its images of the adversarial prompts, from the same seeds, beside them.</source>
        <translation>旁边是它使用相同种子根据对抗提示词生成的图像。</translation>
    </message>
    <message>
        <source>Attack the run&apos;s finished model</source>
        <translation>攻击该次运行完成后的模型</translation>
    </message>
    <message>
        <source>Does it stay forgotten? The attack searches for an input that makes the unlearned model draw the concept again; the judge reads its images before (Pre-ASR) and after (Post-ASR).</source>
        <translation>它是否仍被遗忘？攻击会搜索能让遗忘后模型重新生成该概念的输入；判定器会评估攻击前（Pre-ASR）和攻击后（Post-ASR）的图像。</translation>
    </message>
    <message>
        <source>Starting the attack</source>
        <translation>正在启动攻击</translation>
    </message>
    <message>
        <source>Attacking the run&apos;s model …</source>
        <translation>正在攻击该次运行的模型…</translation>
    </message>
    <message>
        <source>Drawing the base model&apos;s targets</source>
        <translation>正在生成基础模型的目标图像</translation>
    </message>
    <message>
        <source>Drawing the plain prompts&apos; images</source>
        <translation>正在生成原始提示词的图像</translation>
    </message>
    <message>
        <source>Drawing the plain images</source>
        <translation>正在生成原始图像</translation>
    </message>
    <message>
        <source>Attacking</source>
        <translation>正在攻击</translation>
    </message>
    <message>
        <source>Drawing the adversarial prompts&apos; images</source>
        <translation>正在生成对抗提示词的图像</translation>
    </message>
    <message>
        <source>Drawing the adversarial images</source>
        <translation>正在生成对抗图像</translation>
    </message>
    <message>
        <source>%1, prompt %2 of %3</source>
        <translation>%1，第 %2 / %3 条提示词</translation>
    </message>
    <message>
        <source>%1: %v of %m</source>
        <translation>%1：%v / %m</translation>
    </message>
    <message>
        <source>prompt %1</source>
        <translation>提示词 %1</translation>
    </message>
    <message>
        <source>Attack finished</source>
        <translation>攻击完成</translation>
    </message>
    <message>
        <source>Targets drawn from &quot;%1&quot;</source>
        <translation>目标图像由“%1”生成</translation>
    </message>
    <message>
        <source>Finished in %1 s. The judge: %2.</source>
        <translation>用时 %1 秒完成。判定器：%2。</translation>
    </message>
    <message>
        <source>Attack finished: %1</source>
        <translation>攻击完成：%1</translation>
    </message>
    <message>
        <source>Attack cancelled</source>
        <translation>攻击已取消</translation>
    </message>
    <message>
        <source>The attack was cancelled; the run&apos;s results are as they were.</source>
        <translation>攻击已取消；该次运行的结果保持不变。</translation>
    </message>
    <message>
        <source>Attack failed</source>
        <translation>攻击失败</translation>
    </message>
    <message>
        <source>The attack failed: %1</source>
        <translation>攻击失败：%1</translation>
    </message>
    <message>
        <source>UnlearnDiffAtk</source>
        <translation>UnlearnDiffAtk</translation>
    </message>
    <message>
        <source>soft prompt</source>
        <translation>软提示词</translation>
    </message>
    <message>
        <source>class attack</source>
        <translation>类别攻击</translation>
    </message>
    <message>
        <source>Pre-ASR %1 → Post-ASR %2 (%3, %4 × %5 seeds)</source>
        <translation>Pre-ASR %1 → Post-ASR %2（%3，%4 × %5 个种子）</translation>
    </message>
    <message>
        <source>1 prompt</source>
        <translation>1 条提示词</translation>
    </message>
    <message>
        <source>%1 prompts</source>
        <translation>%1 条提示词</translation>
    </message>
    <message>
        <source>1 class</source>
        <translation>1 个类别</translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1%</translation>
    </message>
    <message>
        <source>Adversarial tokens put before or after the prompt</source>
        <translation>放在提示词之前或之后的对抗词元</translation>
    </message>
    <message>
        <source>Before the prompt (UnlearnDiffAtk)</source>
        <translation>提示词之前（UnlearnDiffAtk）</translation>
    </message>
    <message>
        <source>After the prompt</source>
        <translation>提示词之后</translation>
    </message>
    <message>
        <source>Where the adversarial tokens go: before the prompt, as UnlearnDiffAtk does by default, or after it, where the concept&apos;s word would stand</source>
        <translation>对抗词元的位置：放在提示词之前（UnlearnDiffAtk 的默认做法），或放在其后，即概念词原本所在的位置</translation>
    </message>
    <message>
        <source>Plac&amp;ement:</source>
        <translation>位置(&amp;E):</translation>
    </message>
</context>
<context>
    <name>lethe::gui::RunWorker</name>
    <message>
        <source>Drawing the previews</source>
        <translation>正在生成预览</translation>
    </message>
    <message>
        <source>float32 (full precision)</source>
        <translation>float32（全精度）</translation>
    </message>
    <message>
        <source>bfloat16 (autocast)</source>
        <translation>bfloat16（自动混合精度）</translation>
    </message>
    <message>
        <source>float16 (autocast, CUDA only)</source>
        <translation>float16（自动混合精度，仅 CUDA）</translation>
    </message>
</context>
<context>
    <name>lethe::gui::SessionWorker</name>
    <message>
        <source>RGD (restricted gradient, diverse remain set)</source>
        <translation>RGD（受限梯度，多样化保留集）</translation>
    </message>
    <message>
        <source>RG (restricted gradient)</source>
        <translation>RG（受限梯度）</translation>
    </message>
    <message>
        <source>GradDiff</source>
        <translation>GradDiff</translation>
    </message>
    <message>
        <source>GA (gradient ascent)</source>
        <translation>GA（梯度上升）</translation>
    </message>
    <message>
        <source>SalUn</source>
        <translation>SalUn</translation>
    </message>
    <message>
        <source>Opening the model and data set</source>
        <translation>正在打开模型和数据集</translation>
    </message>
    <message>
        <source>Measuring the real test images</source>
        <translation>正在测量真实测试图像</translation>
    </message>
    <message>
        <source>%1 — %2 parameters, %3 classes, %4×%4, %5</source>
        <translation>%1 — %2 个参数，%3 个类别，%4×%4，%5</translation>
    </message>
    <message>
        <source>%1 — %2 training images</source>
        <translation>%1 — %2 张训练图像</translation>
    </message>
    <message>
        <source>Sampling the base model&apos;s preview</source>
        <translation>正在生成基础模型的预览</translation>
    </message>
    <message>
        <source>Measuring the base model</source>
        <translation>正在测量基础模型</translation>
    </message>
    <message>
        <source>Measuring the unlearned model</source>
        <translation>正在测量遗忘后的模型</translation>
    </message>
    <message>
        <source>Sampling the unlearned model&apos;s preview</source>
        <translation>正在生成遗忘后模型的预览</translation>
    </message>
    <message>
        <source>Loading the CLIP model</source>
        <translation>正在加载 CLIP 模型</translation>
    </message>
    <message>
        <source>Loading the Inception detector and the FID reference</source>
        <translation>正在加载 Inception 检测器和 FID 参考统计量</translation>
    </message>
    <message>
        <source>zero-shot CLIP from %1 (&quot;%2&quot; … &quot;%3&quot;)</source>
        <translation>来自 %1 的零样本 CLIP（“%2”…“%3”）</translation>
    </message>
    <message>
        <source>FID with %1 against %2 (%3 resize)</source>
        <translation>FID：%1 对照 %2（%3 缩放）</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::ClassPicker</name>
    <message>
        <source>Classes</source>
        <translation>类别</translation>
    </message>
    <message numerus="yes">
        <source>%1  %2 (%n images)</source>
        <translation>
            <numerusform>%1  %2（%n 张图像）</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>lethe::widgets::CurvePlot</name>
    <message>
        <source>step</source>
        <translation>步</translation>
    </message>
    <message>
        <source>%1 (smoothed)</source>
        <translation>%1（平滑）</translation>
    </message>
    <message>
        <source>step %1</source>
        <translation>第 %1 步</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::HyperparameterPanel</name>
    <message>
        <source>&amp;Preset:</source>
        <translation>预设(&amp;P)：</translation>
    </message>
    <message>
        <source>&amp;Method:</source>
        <translation>方法(&amp;M)：</translation>
    </message>
    <message>
        <source>&amp;α (forget-loss truncation):</source>
        <translation>α（遗忘损失截断）(&amp;α)：</translation>
    </message>
    <message>
        <source>&amp;λ (remain weight):</source>
        <translation>λ（保留权重）(&amp;λ)：</translation>
    </message>
    <message>
        <source>&amp;Learning rate:</source>
        <translation>学习率(&amp;L)：</translation>
    </message>
    <message>
        <source>&amp;Steps:</source>
        <translation>步数(&amp;S)：</translation>
    </message>
    <message>
        <source>&amp;Forget batch:</source>
        <translation>遗忘批大小(&amp;F)：</translation>
    </message>
    <message>
        <source>&amp;Remain images per class:</source>
        <translation>每类保留图像数(&amp;R)：</translation>
    </message>
    <message>
        <source>Remain &amp;batch:</source>
        <translation>保留批大小(&amp;B)：</translation>
    </message>
    <message>
        <source>S&amp;eed:</source>
        <translation>随机种子(&amp;E)：</translation>
    </message>
    <message>
        <source>Per-element truncation of the forget loss: elements above α give no gradient.</source>
        <translation>对遗忘损失逐元素截断：高于 α 的元素不产生梯度。</translation>
    </message>
    <message>
        <source>Weight of the remain (descent) direction relative to the forget (ascent) direction.</source>
        <translation>保留（下降）方向相对于遗忘（上升）方向的权重。</translation>
    </message>
    <message>
        <source>Adam learning rate, constant.</source>
        <translation>Adam 学习率，恒定不变。</translation>
    </message>
    <message>
        <source>Size of the diverse remain set: images of each class that is kept.</source>
        <translation>多样化保留集的大小：每个保留类别的图像数。</translation>
    </message>
    <message>
        <source>&amp;η (ESD guidance):</source>
        <translation>η（ESD 引导强度）(&amp;η)：</translation>
    </message>
    <message>
        <source>The UNet parameters the run changes</source>
        <translation>本次运行所修改的 UNet 参数</translation>
    </message>
    <message>
        <source>ESD: how far the target moves away from the concept (negative guidance)</source>
        <translation>ESD：目标偏离该概念的程度（负向引导）</translation>
    </message>
    <message>
        <source>Forget-loss truncation: a step whose L_f exceeds α descends on the remain set only</source>
        <translation>遗忘损失截断：L_f 超过 α 的步仅在保留集上做梯度下降</translation>
    </message>
    <message>
        <source>Parame&amp;ters:</source>
        <translation>参数(&amp;T)：</translation>
    </message>
    <message>
        <source>Salienc&amp;y fraction:</source>
        <translation>显著性比例(&amp;Y)：</translation>
    </message>
    <message>
        <source>Gui&amp;de:</source>
        <translation>引导文本(&amp;D)：</translation>
    </message>
    <message>
        <source>Preser&amp;ved concepts:</source>
        <translation>保留的概念(&amp;V)：</translation>
    </message>
    <message>
        <source>Regular&amp;isation:</source>
        <translation>正则化(&amp;I)：</translation>
    </message>
    <message>
        <source>Erase s&amp;cale:</source>
        <translation>擦除权重(&amp;C)：</translation>
    </message>
    <message>
        <source>Preserve sc&amp;ale:</source>
        <translation>保留权重(&amp;A)：</translation>
    </message>
    <message>
        <source>SalUn: the fraction of the weights&apos; entries its saliency mask lets change (those with the largest forget-loss gradient)</source>
        <translation>SalUn：显著性掩码允许改动的权重元素比例（遗忘损失梯度最大的那些）</translation>
    </message>
    <message>
        <source>empty prompt</source>
        <translation>空提示词</translation>
    </message>
    <message>
        <source>UCE: what the concept words are mapped to; empty: the empty prompt, as UCE&apos;s authors erase</source>
        <translation>UCE：概念词被映射到的文本；留空：空提示词，即 UCE 作者擦除时的做法</translation>
    </message>
    <message>
        <source>concepts separated by commas</source>
        <translation>以逗号分隔的概念</translation>
    </message>
    <message>
        <source>UCE: concepts whose cross-attention keys and values stay as they were, e.g. the other garments; empty: the concept dimension&apos;s other training values when the prompt sets were built from a preset</source>
        <translation>UCE：交叉注意力的键和值保持不变的概念，例如其他服装；留空：若提示词集由预设构建，则为概念维度的其余训练取值</translation>
    </message>
    <message>
        <source>UCE: the weight λ of ‖W − W_old‖², which keeps the edit near the original projections (the authors&apos; 0.1)</source>
        <translation>UCE：‖W − W_old‖² 的权重 λ，使编辑贴近原始投影（作者取 0.1）</translation>
    </message>
    <message>
        <source>UCE: the weight of the erased concepts&apos; term (the authors&apos; 1)</source>
        <translation>UCE：被擦除概念一项的权重（作者取 1）</translation>
    </message>
    <message>
        <source>auto</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>UCE: the weight of the preserved concepts&apos; term; auto: the authors&apos; max(0.1, 1 / preserved concepts)</source>
        <translation>UCE：保留概念一项的权重；自动：作者的 max(0.1, 1 / 保留概念数)</translation>
    </message>
    <message>
        <source>Precisio&amp;n:</source>
        <translation>精度(&amp;N)：</translation>
    </message>
    <message>
        <source>Gradient chec&amp;kpointing</source>
        <translation>梯度检查点(&amp;K)</translation>
    </message>
    <message>
        <source>Mem&amp;ory-efficient attention</source>
        <translation>省内存注意力(&amp;O)</translation>
    </message>
    <message>
        <source>The arithmetic of the steps&apos; passes: bfloat16 and float16 compute matrix products and convolutions in 16 bits (faster where the hardware has 16-bit units); autocast keeps copies in both types, so activations take more memory, not less; the weights, their gradients and Adam&apos;s state stay float32. float16 needs CUDA.</source>
        <translation>各步前向与反向计算的数值精度：bfloat16 和 float16 以 16 位计算矩阵乘法和卷积（在具备 16 位运算单元的硬件上更快）；autocast 会同时保留两种类型的副本，因此激活占用更多内存而非更少；权重、梯度和 Adam 的状态仍为 float32。float16 需要 CUDA。</translation>
    </message>
    <message>
        <source>Recompute the UNet blocks&apos; activations in the backward pass instead of keeping them: far less memory for activations, for about one more forward pass of time per step</source>
        <translation>在反向传播中重新计算 UNet 各块的激活而不保存它们：激活所需内存大幅减少，每步约多花一次前向计算的时间</translation>
    </message>
    <message>
        <source>Attention that never holds a whole score tensor (heads × queries × keys): much less memory at large images, the same result up to rounding</source>
        <translation>从不保存完整注意力分数张量（头 × 查询 × 键）的注意力：大图像时内存少得多，结果除舍入外相同</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::LogView</name>
    <message>
        <source>Log</source>
        <translation>日志</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::MetricsView</name>
    <message>
        <source>classified as its class</source>
        <translation>被分类为所属类别</translation>
    </message>
    <message>
        <source>Per-class accuracy before and after</source>
        <translation>遗忘前后各类别准确率</translation>
    </message>
    <message>
        <source>before</source>
        <translation>遗忘前</translation>
    </message>
    <message>
        <source>after</source>
        <translation>遗忘后</translation>
    </message>
    <message>
        <source>No measurements yet: they appear when a run with evaluation finishes.</source>
        <translation>暂无测量结果：带评估的运行结束后将在此显示。</translation>
    </message>
    <message>
        <source>UA %1 → %2   RA %3 → %4   FD_cls %5 → %6   KID_cls %7 → %8</source>
        <translation>UA %1 → %2   RA %3 → %4   FD_cls %5 → %6   KID_cls %7 → %8</translation>
    </message>
    <message>
        <source>%1 → %2</source>
        <translation>%1 → %2</translation>
    </message>
    <message>
        <source>CLIP-UA %1   CLIP-RA %2</source>
        <translation>CLIP-UA %1   CLIP-RA %2</translation>
    </message>
    <message>
        <source>FID %1 (remaining classes)</source>
        <translation>FID %1（保留类别）</translation>
    </message>
    <message>
        <source>FID forgotten %1</source>
        <translation>FID（被遗忘类别）%1</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::PathEdit</name>
    <message>
        <source>…</source>
        <translation>…</translation>
    </message>
</context>
</TS>
