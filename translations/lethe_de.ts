<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>lethe::gui</name>
    <message>
        <source>loss</source>
        <translation>Verlust</translation>
    </message>
    <message>
        <source>L_f (forget)</source>
        <translation>L_f (Vergessen)</translation>
    </message>
    <message>
        <source>L_r (remain)</source>
        <translation>L_r (Behalten)</translation>
    </message>
    <message>
        <source>cos(a, d)</source>
        <translation>cos(a, d)</translation>
    </message>
    <message>
        <source>projected</source>
        <translation>projiziert</translation>
    </message>
    <message>
        <source>truncated (L_f &gt; α)</source>
        <translation>gekappt (L_f &gt; α)</translation>
    </message>
    <message>
        <source>gradient norm</source>
        <translation>Gradientennorm</translation>
    </message>
    <message>
        <source>‖a‖ (forget)</source>
        <translation>‖a‖ (Vergessen)</translation>
    </message>
    <message>
        <source>‖d‖ (remain)</source>
        <translation>‖d‖ (Behalten)</translation>
    </message>
    <message>
        <source>Losses</source>
        <translation>Verluste</translation>
    </message>
    <message>
        <source>cos(a, d) and projection</source>
        <translation>cos(a, d) und Projektion</translation>
    </message>
    <message>
        <source>Gradient norms</source>
        <translation>Gradientennormen</translation>
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
        <translation>Modell und Daten</translation>
    </message>
    <message>
        <source>Opening the built-in model …</source>
        <translation>Öffne das integrierte Modell …</translation>
    </message>
    <message>
        <source>Open &amp;model…</source>
        <translation>Modell ö&amp;ffnen…</translation>
    </message>
    <message>
        <source>Open a Lethe or converted EDM model</source>
        <translation>Lethe- oder konvertiertes EDM-Modell öffnen</translation>
    </message>
    <message>
        <source>Model files (*.safetensors)</source>
        <translation>Modelldateien (*.safetensors)</translation>
    </message>
    <message>
        <source>Fashion-MNIST (built-in)</source>
        <translation>Fashion-MNIST (integriert)</translation>
    </message>
    <message>
        <source>Open a folder (CIFAR-10 binary, IDX or image folder)…</source>
        <translation>Ordner öffnen (CIFAR-10-Binärformat, IDX oder Bildordner)…</translation>
    </message>
    <message>
        <source>Open a data set folder</source>
        <translation>Datensatzordner öffnen</translation>
    </message>
    <message>
        <source>&amp;Data set:</source>
        <translation>D&amp;atensatz:</translation>
    </message>
    <message>
        <source>&amp;Class to forget:</source>
        <translation>&amp;Zu vergessende Klasse:</translation>
    </message>
    <message>
        <source>Method and hyperparameters</source>
        <translation>Methode und Hyperparameter</translation>
    </message>
    <message>
        <source>Measure &amp;before and after</source>
        <translation>V&amp;orher und nachher messen</translation>
    </message>
    <message>
        <source>UA, RA per class, FD_cls and KID_cls from generated images (takes minutes on a CPU)</source>
        <translation>UA, RA pro Klasse, FD_cls und KID_cls aus generierten Bildern (dauert auf einer CPU einige Minuten)</translation>
    </message>
    <message>
        <source> per class</source>
        <translation> pro Klasse</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>Lauf</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>&amp;Starten</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pausieren</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>S&amp;toppen</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>E&amp;xportieren…</translation>
    </message>
    <message>
        <source>&amp;Log scale</source>
        <translation>&amp;Logarithmische Skala</translation>
    </message>
    <message>
        <source>&amp;Fit</source>
        <translation>Ei&amp;npassen</translation>
    </message>
    <message>
        <source>Export c&amp;urves…</source>
        <translation>K&amp;urven exportieren…</translation>
    </message>
    <message>
        <source>Export the curves (PNG and CSV)</source>
        <translation>Kurven exportieren (PNG und CSV)</translation>
    </message>
    <message>
        <source>PNG image (*.png)</source>
        <translation>PNG-Bild (*.png)</translation>
    </message>
    <message>
        <source>Export the curves</source>
        <translation>Kurven exportieren</translation>
    </message>
    <message>
        <source>Could not write %1 or %2.</source>
        <translation>%1 oder %2 konnte nicht geschrieben werden.</translation>
    </message>
    <message>
        <source>Wrote %1 and %2</source>
        <translation>%1 und %2 geschrieben</translation>
    </message>
    <message>
        <source>Before</source>
        <translation>Vorher</translation>
    </message>
    <message>
        <source>The base model&apos;s samples appear when a run starts.</source>
        <translation>Die Samples des Basismodells erscheinen, sobald ein Lauf beginnt.</translation>
    </message>
    <message>
        <source>The base model&apos;s samples are drawn when the run ends, and kept for the next runs with the same preview seeds.</source>
        <translation>Die Samples des Basismodells werden gezeichnet, wenn der Lauf endet, und für die nächsten Läufe mit denselben Vorschau-Seeds aufbewahrt.</translation>
    </message>
    <message>
        <source>After</source>
        <translation>Nachher</translation>
    </message>
    <message>
        <source>The unlearned model&apos;s samples, from the same seeds, appear at each preview.</source>
        <translation>Die Samples des verlernten Modells aus denselben Seeds erscheinen bei jeder Vorschau.</translation>
    </message>
    <message>
        <source>&amp;Difference ×4</source>
        <translation>&amp;Differenz ×4</translation>
    </message>
    <message>
        <source>Snapshot timeline</source>
        <translation>Schnappschuss-Zeitleiste</translation>
    </message>
    <message>
        <source>no previews yet</source>
        <translation>noch keine Vorschauen</translation>
    </message>
    <message>
        <source>Export this s&amp;napshot…</source>
        <translation>Diesen S&amp;chnappschuss exportieren…</translation>
    </message>
    <message>
        <source>Before / after</source>
        <translation>Vorher / nachher</translation>
    </message>
    <message>
        <source>Metrics</source>
        <translation>Metriken</translation>
    </message>
    <message>
        <source>No model open.</source>
        <translation>Kein Modell geöffnet.</translation>
    </message>
    <message>
        <source>Could not open the model</source>
        <translation>Das Modell konnte nicht geöffnet werden</translation>
    </message>
    <message>
        <source>Open model</source>
        <translation>Modell öffnen</translation>
    </message>
    <message>
        <source>rollback → %1</source>
        <translation>Rücksetzung → %1</translation>
    </message>
    <message>
        <source>Step %1: %2; weights restored to step %3</source>
        <translation>Schritt %1: %2; Gewichte auf Schritt %3 zurückgesetzt</translation>
    </message>
    <message>
        <source>Exported to %1</source>
        <translation>Nach %1 exportiert</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>Export</translation>
    </message>
    <message>
        <source>Opening %1 …</source>
        <translation>Öffne %1 …</translation>
    </message>
    <message>
        <source>the built-in model</source>
        <translation>das integrierte Modell</translation>
    </message>
    <message>
        <source>Ready: choose a class and press Start</source>
        <translation>Bereit: Klasse wählen und auf „Starten“ klicken</translation>
    </message>
    <message>
        <source>Unlearning %1 with %2</source>
        <translation>Verlernen von %1 mit %2</translation>
    </message>
    <message>
        <source>Paused after step %1: change α, λ or lr, export, or resume</source>
        <translation>Pausiert nach Schritt %1: α, λ oder lr ändern, exportieren oder fortsetzen</translation>
    </message>
    <message>
        <source>Resumed</source>
        <translation>Fortgesetzt</translation>
    </message>
    <message>
        <source>Stopping after the current step …</source>
        <translation>Wird nach dem aktuellen Schritt gestoppt …</translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation>&amp;Fortsetzen</translation>
    </message>
    <message>
        <source>step %v of %m</source>
        <translation>Schritt %v von %m</translation>
    </message>
    <message>
        <source>: %v of %m</source>
        <translation>: %v von %m</translation>
    </message>
    <message>
        <source>%1 steps/s · ETA %2 · L_f %3 · L_r %4 · cos %5</source>
        <translation>%1 Schritte/s · Restzeit %2 · L_f %3 · L_r %4 · cos %5</translation>
    </message>
    <message>
        <source>Difference ×4 at step %1</source>
        <translation>Differenz ×4 bei Schritt %1</translation>
    </message>
    <message>
        <source>After step %1</source>
        <translation>Nach Schritt %1</translation>
    </message>
    <message>
        <source>step %1</source>
        <translation>Schritt %1</translation>
    </message>
    <message>
        <source>%1 from step %2</source>
        <translation>%1 ab Schritt %2</translation>
    </message>
    <message>
        <source>The run failed after %1 steps</source>
        <translation>Der Lauf ist nach %1 Schritten fehlgeschlagen</translation>
    </message>
    <message>
        <source>Run failed</source>
        <translation>Lauf fehlgeschlagen</translation>
    </message>
    <message>
        <source>Run %1 after %2 steps in %3 (%4 steps/s)%5</source>
        <translation>Lauf %1 nach %2 Schritten in %3 (%4 Schritte/s)%5</translation>
    </message>
    <message>
        <source>finished</source>
        <translation>beendet</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>gestoppt</translation>
    </message>
    <message>
        <source>Export into a folder</source>
        <translation>In einen Ordner exportieren</translation>
    </message>
    <message>
        <source>Exporting to %1 …</source>
        <translation>Exportiere nach %1 …</translation>
    </message>
    <message>
        <source>%1, seed column %2</source>
        <translation>%1, Seed-Spalte %2</translation>
    </message>
    <message>
        <source>before</source>
        <translation>vorher</translation>
    </message>
    <message>
        <source>after step %1</source>
        <translation>nach Schritt %1</translation>
    </message>
    <message>
        <source>difference ×4</source>
        <translation>Differenz ×4</translation>
    </message>
    <message>
        <source>&amp;Instruments…</source>
        <translation>&amp;Instrumente…</translation>
    </message>
    <message>
        <source>Also measure with zero-shot CLIP (UA and RA) and FID, as published results are measured</source>
        <translation>Zusätzlich mit Zero-Shot-CLIP (UA und RA) und FID messen, wie veröffentlichte Ergebnisse gemessen werden</translation>
    </message>
    <message>
        <source>zero-shot CLIP (%1)</source>
        <translation>Zero-Shot-CLIP (%1)</translation>
    </message>
    <message>
        <source>FID (%1 against %2, %3 resize)</source>
        <translation>FID (%1 gegen %2, Skalierung %3)</translation>
    </message>
    <message>
        <source>Also: %1</source>
        <translation>Zusätzlich: %1</translation>
    </message>
    <message>
        <source>, </source>
        <translation>, </translation>
    </message>
    <message>
        <source> — measuring with %1</source>
        <translation> — Messung mit %1</translation>
    </message>
    <message>
        <source>Could not load the measuring instruments: the run was not started</source>
        <translation>Die Messinstrumente konnten nicht geladen werden: Der Lauf wurde nicht gestartet</translation>
    </message>
    <message>
        <source>Loading the measuring instruments …</source>
        <translation>Lade die Messinstrumente …</translation>
    </message>
    <message>
        <source>Ro&amp;bustness</source>
        <translation>Ro&amp;bustheit</translation>
    </message>
    <message>
        <source>The attack starts once the run has finished.</source>
        <translation>Der Angriff beginnt, sobald der Lauf beendet ist.</translation>
    </message>
    <message>
        <source>Run unlearning first: the attack needs the run&apos;s finished model.</source>
        <translation>Zuerst verlernen: Der Angriff braucht das fertige Modell des Laufs.</translation>
    </message>
    <message>
        <source>The attack&apos;s judge is a classifier of the model&apos;s classes, and none was found for this model.</source>
        <translation>Der Prüfer des Angriffs ist ein Klassifikator für die Klassen des Modells, und für dieses Modell wurde keiner gefunden.</translation>
    </message>
    <message>
        <source>Wait for the export to end.</source>
        <translation>Warten, bis der Export beendet ist.</translation>
    </message>
    <message>
        <source>Attacking the unlearned model: does %1 stay forgotten?</source>
        <translation>Angriff auf das verlernte Modell: Bleibt %1 vergessen?</translation>
    </message>
    <message>
        <source>Robustness: %1</source>
        <translation>Robustheit: %1</translation>
    </message>
</context>
<context>
    <name>lethe::gui::ConceptTab</name>
    <message>
        <source>Pro&amp;mpts</source>
        <translation>Pro&amp;mpts</translation>
    </message>
    <message>
        <source>C&amp;urves and samples</source>
        <translation>K&amp;urven und Samples</translation>
    </message>
    <message>
        <source>Text-to-image model</source>
        <translation>Text-zu-Bild-Modell</translation>
    </message>
    <message>
        <source>empty: the built-in Fashion model; or a diffusers folder or CompVis file</source>
        <translation>leer: das integrierte Fashion-Modell; oder ein diffusers-Ordner oder eine CompVis-Datei</translation>
    </message>
    <message>
        <source>Mo&amp;del:</source>
        <translation>Mo&amp;dell:</translation>
    </message>
    <message>
        <source>Folder…</source>
        <translation>Ordner…</translation>
    </message>
    <message>
        <source>Choose a diffusers folder (with model_index.json)</source>
        <translation>diffusers-Ordner wählen (mit model_index.json)</translation>
    </message>
    <message>
        <source>Open a diffusers folder</source>
        <translation>diffusers-Ordner öffnen</translation>
    </message>
    <message>
        <source>File…</source>
        <translation>Datei…</translation>
    </message>
    <message>
        <source>Choose a CompVis single .safetensors file</source>
        <translation>CompVis-Einzeldatei (.safetensors) wählen</translation>
    </message>
    <message>
        <source>Open a CompVis single file</source>
        <translation>CompVis-Einzeldatei öffnen</translation>
    </message>
    <message>
        <source>Model files (*.safetensors)</source>
        <translation>Modelldateien (*.safetensors)</translation>
    </message>
    <message>
        <source>for a CompVis file: its tokenizer/configs folder</source>
        <translation>für eine CompVis-Datei: der Ordner mit ihrem Tokenizer und ihren Konfigurationen</translation>
    </message>
    <message>
        <source>Com&amp;ponents:</source>
        <translation>Kom&amp;ponenten:</translation>
    </message>
    <message>
        <source>The components folder</source>
        <translation>Komponentenordner</translation>
    </message>
    <message>
        <source>&amp;Open</source>
        <translation>Ö&amp;ffnen</translation>
    </message>
    <message>
        <source>No model open.</source>
        <translation>Kein Modell geöffnet.</translation>
    </message>
    <message>
        <source>Training images (drawn by the base model)</source>
        <translation>Trainingsbilder (vom Basismodell erzeugt)</translation>
    </message>
    <message>
        <source>DDIM steps of the training and preview images</source>
        <translation>DDIM-Schritte für Trainings- und Vorschaubilder</translation>
    </message>
    <message>
        <source>Images drawn once are kept here (forget/ and remain/) and read again by the next press or run</source>
        <translation>Einmal erzeugte Bilder werden hier abgelegt (forget/ und remain/) und beim nächsten Klick oder Lauf wieder gelesen</translation>
    </message>
    <message>
        <source>…</source>
        <translation>…</translation>
    </message>
    <message>
        <source>Choose the image cache folder</source>
        <translation>Bild-Cache-Ordner wählen</translation>
    </message>
    <message>
        <source>Image cache folder</source>
        <translation>Bild-Cache-Ordner</translation>
    </message>
    <message>
        <source>Sampler s&amp;teps:</source>
        <translation>Sampler-Schri&amp;tte:</translation>
    </message>
    <message>
        <source>&amp;Guidance:</source>
        <translation>&amp;Guidance:</translation>
    </message>
    <message>
        <source>Images per &amp;batch:</source>
        <translation>Bilder pro &amp;Batch:</translation>
    </message>
    <message>
        <source>Cac&amp;he folder:</source>
        <translation>Cac&amp;he-Ordner:</translation>
    </message>
    <message>
        <source>&amp;Generate training images</source>
        <translation>Trainingsbilder er&amp;zeugen</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>Not drawn yet.</source>
        <translation>Noch nicht erzeugt.</translation>
    </message>
    <message>
        <source>Method and hyperparameters</source>
        <translation>Methode und Hyperparameter</translation>
    </message>
    <message>
        <source>Run and export</source>
        <translation>Lauf und Export</translation>
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
        <translation>diffusers-Ordner e&amp;xportieren…</translation>
    </message>
    <message>
        <source>Export &amp;CompVis file…</source>
        <translation>&amp;CompVis-Datei exportieren…</translation>
    </message>
    <message>
        <source>Before</source>
        <translation>Vorher</translation>
    </message>
    <message>
        <source>The base model&apos;s images of the checked prompts appear when a run starts.</source>
        <translation>Die Bilder des Basismodells zu den markierten Prompts erscheinen, sobald ein Lauf beginnt.</translation>
    </message>
    <message>
        <source>After</source>
        <translation>Nachher</translation>
    </message>
    <message>
        <source>The unlearned model&apos;s images, from the same seeds, appear when the run ends.</source>
        <translation>Die Bilder des verlernten Modells aus denselben Seeds erscheinen, wenn der Lauf endet.</translation>
    </message>
    <message>
        <source>Open a text-to-image model</source>
        <translation>Text-zu-Bild-Modell öffnen</translation>
    </message>
    <message>
        <source>%1 training images ready: %2 drawn now, %3 from the cache.</source>
        <translation>%1 Trainingsbilder bereit: %2 jetzt erzeugt, %3 aus dem Cache.</translation>
    </message>
    <message>
        <source>training images: %p%</source>
        <translation>Trainingsbilder: %p%</translation>
    </message>
    <message>
        <source>Cancelled; the images drawn so far are cached and the next press goes on.</source>
        <translation>Abgebrochen; die bisher erzeugten Bilder liegen im Cache, der nächste Klick macht weiter.</translation>
    </message>
    <message>
        <source>Generate training images</source>
        <translation>Trainingsbilder erzeugen</translation>
    </message>
    <message>
        <source>Before (base model)</source>
        <translation>Vorher (Basismodell)</translation>
    </message>
    <message>
        <source>After step %1</source>
        <translation>Nach Schritt %1</translation>
    </message>
    <message>
        <source>Opening %1 …</source>
        <translation>Öffne %1 …</translation>
    </message>
    <message>
        <source>the built-in model</source>
        <translation>das integrierte Modell</translation>
    </message>
    <message>
        <source>The forget set is empty: type forget prompts, load a prompt file or build them from a preset.</source>
        <translation>Die Vergessensmenge ist leer: Vergessens-Prompts eingeben, eine Prompt-Datei laden oder sie aus einer Vorgabe erstellen.</translation>
    </message>
    <message>
        <source>Choose a folder for the training-image cache.</source>
        <translation>Einen Ordner für den Trainingsbild-Cache wählen.</translation>
    </message>
    <message>
        <source>Drawing the training images (cached in %1)</source>
        <translation>Erzeugen der Trainingsbilder (Cache in %1)</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>Starten</translation>
    </message>
    <message>
        <source>Before / after seeds</source>
        <translation>Vorher-/Nachher-Seeds</translation>
    </message>
    <message>
        <source>Unlearning with %1: %2 forget and %3 remain prompts</source>
        <translation>Verlernen mit %1: %2 Vergessens- und %3 Behaltens-Prompts</translation>
    </message>
    <message>
        <source>Paused after step %1: change α, λ or lr, or resume</source>
        <translation>Pausiert nach Schritt %1: α, λ oder lr ändern oder fortsetzen</translation>
    </message>
    <message>
        <source>Export as a CompVis single file</source>
        <translation>Als CompVis-Einzeldatei exportieren</translation>
    </message>
    <message>
        <source>Export as a diffusers folder (a new folder)</source>
        <translation>Als diffusers-Ordner exportieren (neuer Ordner)</translation>
    </message>
    <message>
        <source>Exporting …</source>
        <translation>Exportiere …</translation>
    </message>
    <message>
        <source>Opened %1 (preset %2): fill the prompt sets, then generate the training images or press Start</source>
        <translation>%1 geöffnet (Vorgabe %2): Prompt-Mengen füllen, dann Trainingsbilder erzeugen oder auf „Starten“ klicken</translation>
    </message>
    <message>
        <source>%1: %v of %m (%p%)</source>
        <translation>%1: %v von %m (%p%)</translation>
    </message>
    <message>
        <source>%1 of %2 · %3/s · ETA %4</source>
        <translation>%1 von %2 · %3/s · Restzeit %4</translation>
    </message>
    <message>
        <source>%1 steps/s · ETA %2 · L_f %3 · L_r %4 · cos %5%6</source>
        <translation>%1 Schritte/s · Restzeit %2 · L_f %3 · L_r %4 · cos %5%6</translation>
    </message>
    <message>
        <source> · truncated</source>
        <translation> · gekappt</translation>
    </message>
    <message>
        <source>%1 steps in %2 · %3 steps/s (stepping only) · L_f %4 · L_r %5</source>
        <translation>%1 Schritte in %2 · %3 Schritte/s (nur Trainingsschritte) · L_f %4 · L_r %5</translation>
    </message>
    <message>
        <source>The run failed after %1 steps</source>
        <translation>Der Lauf ist nach %1 Schritten fehlgeschlagen</translation>
    </message>
    <message>
        <source>Run failed</source>
        <translation>Lauf fehlgeschlagen</translation>
    </message>
    <message>
        <source>Run %1 after %2 steps in %3%4</source>
        <translation>Lauf %1 nach %2 Schritten in %3%4</translation>
    </message>
    <message>
        <source>Measures</source>
        <translation>Messungen</translation>
    </message>
    <message>
        <source>Choose a CLIP model folder</source>
        <translation>CLIP-Modellordner wählen</translation>
    </message>
    <message>
        <source>optional: a CLIP model folder</source>
        <translation>optional: ein CLIP-Modellordner</translation>
    </message>
    <message>
        <source>CLIP alignment (cosine of image and prompt embeddings) of D_f, D_r,train and D_r,test, drawn at the before/after seeds by the base model and by the unlearned one</source>
        <translation>CLIP-Übereinstimmung (Kosinus der Bild- und Prompt-Embeddings) von D_f, D_r,train und D_r,test, erzeugt mit den Vorher-/Nachher-Seeds vom Basismodell und vom verlernten Modell</translation>
    </message>
    <message>
        <source>all</source>
        <translation>alle</translation>
    </message>
    <message>
        <source>The first prompts of each set drawn for CLIP, each at every before/after seed</source>
        <translation>Die ersten Prompts jeder Menge, die für CLIP erzeugt werden, jeder mit jedem Vorher-/Nachher-Seed</translation>
    </message>
    <message>
        <source>CL&amp;IP model:</source>
        <translation>CL&amp;IP-Modell:</translation>
    </message>
    <message>
        <source>prompts per set:</source>
        <translation>Prompts pro Menge:</translation>
    </message>
    <message>
        <source>Choose a CLIP model under Measures: each run then measures the CLIP alignment (cosine of image and prompt embeddings) of the prompt sets before and after, from the before/after seeds.</source>
        <translation>Unter „Messungen“ ein CLIP-Modell wählen: Jeder Lauf misst dann die CLIP-Übereinstimmung (Kosinus der Bild- und Prompt-Embeddings) der Prompt-Mengen vorher und nachher, mit den Vorher-/Nachher-Seeds.</translation>
    </message>
    <message>
        <source>Prompt set</source>
        <translation>Prompt-Menge</translation>
    </message>
    <message>
        <source>Images</source>
        <translation>Bilder</translation>
    </message>
    <message>
        <source>D_f (forget)</source>
        <translation>D_f (Vergessen)</translation>
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
        <translation>D_r (Training und Test)</translation>
    </message>
    <message>
        <source>%1 (%2 prompts)</source>
        <translation>%1 (%2 Prompts)</translation>
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
        <translation>CLIP-Übereinstimmung des letzten Laufs (Kosinus der Bild- und Prompt-Embeddings), vorher → nachher:</translation>
    </message>
    <message>
        <source>CLIP alignment %1</source>
        <translation>CLIP-Übereinstimmung %1</translation>
    </message>
    <message>
        <source>CLIP alignment</source>
        <translation>CLIP-Übereinstimmung</translation>
    </message>
    <message>
        <source>CLIP model</source>
        <translation>CLIP-Modell</translation>
    </message>
    <message>
        <source>Loading the CLIP model %1 …</source>
        <translation>Lade das CLIP-Modell %1 …</translation>
    </message>
    <message>
        <source> · </source>
        <translation> · </translation>
    </message>
    <message>
        <source>Ro&amp;bustness</source>
        <translation>Ro&amp;bustheit</translation>
    </message>
    <message>
        <source>The attack starts once the run has finished.</source>
        <translation>Der Angriff beginnt, sobald der Lauf beendet ist.</translation>
    </message>
    <message>
        <source>Run unlearning first: the attack needs the run&apos;s finished model.</source>
        <translation>Zuerst verlernen: Der Angriff braucht das fertige Modell des Laufs.</translation>
    </message>
    <message>
        <source>Wait for the work under way to end.</source>
        <translation>Warten, bis die laufende Arbeit beendet ist.</translation>
    </message>
    <message>
        <source>Attack</source>
        <translation>Angriff</translation>
    </message>
    <message>
        <source>The last run had no forget prompts to attack.</source>
        <translation>Der letzte Lauf hatte keine Vergessens-Prompts, die angegriffen werden könnten.</translation>
    </message>
    <message>
        <source>Attacking the unlearned model with %1 of the run&apos;s forget prompts: does &quot;%2&quot; stay forgotten?</source>
        <translation>Angriff auf das verlernte Modell mit %1 der Vergessens-Prompts des Laufs: Bleibt „%2“ vergessen?</translation>
    </message>
    <message>
        <source>Attack success rate (Pre-ASR → Post-ASR)</source>
        <translation>Angriffserfolgsrate (Pre-ASR → Post-ASR)</translation>
    </message>
    <message>
        <source>%1 (%2 prompts × %3 seeds)</source>
        <translation>%1 (%2 Prompts × %3 Seeds)</translation>
    </message>
    <message>
        <source>The remain set is empty: %1 needs remain prompts (or choose ESD or UCE).</source>
        <translation>Die Behaltensmenge ist leer: %1 braucht Behaltens-Prompts (oder ESD oder UCE wählen).</translation>
    </message>
    <message>
        <source>UCE edits the concept&apos;s words: type them under Concept words on the Prompts page (several concepts separated by commas).</source>
        <translation>UCE ändert die Wörter des Konzepts: Tragen Sie sie auf der Seite Prompts unter Konzeptwörter ein (mehrere Konzepte durch Kommas getrennt).</translation>
    </message>
    <message>
        <source>UCE edit
L_f %1
L_r %2</source>
        <translation>UCE-Änderung
L_f %1
L_r %2</translation>
    </message>
    <message>
        <source>UCE edit
(closed form:
no gradients)</source>
        <translation>UCE-Änderung
(geschlossen:
keine Gradienten)</translation>
    </message>
    <message>
        <source>Memory: open a model for an estimate.</source>
        <translation>Speicher: Öffnen Sie ein Modell für eine Schätzung.</translation>
    </message>
    <message>
        <source>Not enough memory</source>
        <translation>Nicht genug Speicher</translation>
    </message>
    <message>
        <source>The run does not start: %1.

In this window those settings are Precision, Gradient checkpointing, Memory-efficient attention, Parameters and the batches under Method and hyperparameters; they are as you left them.</source>
        <translation>Der Lauf startet nicht: %1.

In diesem Fenster sind das die Einstellungen Präzision, Gradient-Checkpointing, Speichersparende Attention, Parameter und die Batches unter Methode und Hyperparameter; sie sind unverändert.</translation>
    </message>
    <message>
        <source>%1: %2 (%p%)</source>
        <translation>%1: %2 (%p%)</translation>
    </message>
    <message>
        <source>%1 · ETA %2</source>
        <translation>%1 · Restzeit %2</translation>
    </message>
    <message>
        <source>Opened %1 (preset %2) with the prompt sets of %3, forgetting &quot;%4&quot;: press Start</source>
        <translation>%1 geöffnet (Vorgabe %2) mit den Prompt-Mengen aus %3, zu vergessen: „%4“: auf „Starten“ klicken</translation>
    </message>
</context>
<context>
    <name>lethe::gui::ConceptWorker</name>
    <message>
        <source>RGD (restricted gradient, diverse remain set)</source>
        <translation>RGD (eingeschränkter Gradient, diverse Behaltensmenge)</translation>
    </message>
    <message>
        <source>GradDiff</source>
        <translation>GradDiff</translation>
    </message>
    <message>
        <source>GA (gradient ascent)</source>
        <translation>GA (Gradientenaufstieg)</translation>
    </message>
    <message>
        <source>ESD (erased stable diffusion)</source>
        <translation>ESD (Erased Stable Diffusion)</translation>
    </message>
    <message>
        <source>All UNet parameters</source>
        <translation>Alle UNet-Parameter</translation>
    </message>
    <message>
        <source>Cross-attention only (ESD-x)</source>
        <translation>Nur Cross-Attention (ESD-x)</translation>
    </message>
    <message>
        <source>Opening %1</source>
        <translation>Öffne %1</translation>
    </message>
    <message>
        <source>%1 (%2) — UNet %3 parameters, %4×%4 images, %5; configs from %6</source>
        <translation>%1 (%2) — UNet %3 Parameter, %4×%4-Bilder, %5; Konfigurationen aus %6</translation>
    </message>
    <message>
        <source>latent</source>
        <translation>Latentraum</translation>
    </message>
    <message>
        <source>pixel space</source>
        <translation>Pixelraum</translation>
    </message>
    <message>
        <source>Drawing the forget images</source>
        <translation>Erzeugen der Vergessensbilder</translation>
    </message>
    <message>
        <source>Drawing the remain images</source>
        <translation>Erzeugen der Behaltensbilder</translation>
    </message>
    <message>
        <source>Stopped while drawing the training images (those drawn are cached).</source>
        <translation>Beim Erzeugen der Trainingsbilder gestoppt (die bereits erzeugten liegen im Cache).</translation>
    </message>
    <message>
        <source>Drawing the base model&apos;s previews (sampler steps)</source>
        <translation>Erzeugen der Vorschauen des Basismodells (Sampler-Schritte)</translation>
    </message>
    <message>
        <source>Stopped while drawing the base model&apos;s previews.</source>
        <translation>Beim Erzeugen der Vorschauen des Basismodells gestoppt.</translation>
    </message>
    <message>
        <source>Drawing the unlearned model&apos;s previews</source>
        <translation>Erzeugen der Vorschauen des verlernten Modells</translation>
    </message>
    <message>
        <source>Writing the diffusers folder %1</source>
        <translation>Schreiben des diffusers-Ordners %1</translation>
    </message>
    <message>
        <source>Writing the CompVis file %1</source>
        <translation>Schreiben der CompVis-Datei %1</translation>
    </message>
    <message>
        <source>All but cross-attention</source>
        <translation>Alles außer Cross-Attention</translation>
    </message>
    <message>
        <source>ESD-u (all but cross-attention, time embedding and output layers)</source>
        <translation>ESD-u (alles außer Cross-Attention, Zeit-Embedding und Ausgabeschichten)</translation>
    </message>
    <message>
        <source>Loading the CLIP model %1</source>
        <translation>Laden des CLIP-Modells %1</translation>
    </message>
    <message>
        <source>Drawing the base model&apos;s %1 images for CLIP</source>
        <translation>Erzeugen der %1-Bilder des Basismodells für CLIP</translation>
    </message>
    <message>
        <source>Stopped while drawing the base model&apos;s images for CLIP.</source>
        <translation>Beim Erzeugen der Bilder des Basismodells für CLIP gestoppt.</translation>
    </message>
    <message>
        <source>Drawing the unlearned model&apos;s %1 images for CLIP</source>
        <translation>Erzeugen der %1-Bilder des verlernten Modells für CLIP</translation>
    </message>
    <message>
        <source>RG (restricted gradient, plain remain set)</source>
        <translation>RG (eingeschränkter Gradient, einfache Behaltensmenge)</translation>
    </message>
    <message>
        <source>SalUn (saliency-masked relabelling)</source>
        <translation>SalUn (Umlabeln mit Salienzmaske)</translation>
    </message>
    <message>
        <source>UCE (closed-form cross-attention edit)</source>
        <translation>UCE (geschlossene Änderung der Cross-Attention)</translation>
    </message>
    <message>
        <source>Memory: about %1 at a step&apos;s peak (%2 in the first step) on %3; free memory unknown</source>
        <translation>Speicher: etwa %1 in der Spitze eines Schritts (%2 im ersten Schritt) auf %3; freier Speicher unbekannt</translation>
    </message>
    <message>
        <source>Memory: about %1 at a step&apos;s peak (%2 in the first step), more than the %3 free on %4</source>
        <translation>Speicher: etwa %1 in der Spitze eines Schritts (%2 im ersten Schritt), mehr als die %3, die auf %4 frei sind</translation>
    </message>
    <message>
        <source>Memory: about %1 at a step&apos;s peak (%2 in the first step) of %3 free on %4</source>
        <translation>Speicher: etwa %1 in der Spitze eines Schritts (%2 im ersten Schritt) von %3 frei auf %4</translation>
    </message>
    <message>
        <source>Memory: no estimate (%1)</source>
        <translation>Speicher: keine Schätzung (%1)</translation>
    </message>
    <message>
        <source>%1 of %2 images</source>
        <translation>%1 von %2 Bildern</translation>
    </message>
    <message>
        <source>images %1–%2 of %3</source>
        <translation>Bilder %1–%2 von %3</translation>
    </message>
    <message>
        <source>image %1 of %2</source>
        <translation>Bild %1 von %2</translation>
    </message>
    <message>
        <source>%1, step %2/%3</source>
        <translation>%1, Schritt %2/%3</translation>
    </message>
</context>
<context>
    <name>lethe::gui::InstrumentsDialog</name>
    <message>
        <source>Measuring instruments</source>
        <translation>Messinstrumente</translation>
    </message>
    <message>
        <source>Besides Lethe&apos;s classifier, the measures can use the instruments published results are measured with, on the same images. Each is optional; the user guide says where the weights come from.</source>
        <translation>Neben Lethes Klassifikator können die Messungen auf denselben Bildern auch die Instrumente verwenden, mit denen veröffentlichte Ergebnisse gemessen werden. Jedes ist optional; das Benutzerhandbuch erklärt, woher die Gewichte stammen.</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>optional</translation>
    </message>
    <message>
        <source>Choose a CLIP model folder</source>
        <translation>CLIP-Modellordner wählen</translation>
    </message>
    <message>
        <source>A CLIP model folder (Hugging Face layout: config.json, model.safetensors, the tokenizer files), e.g. openai/clip-vit-base-patch32: UA and RA by zero-shot CLIP, as the RGD paper measures them</source>
        <translation>Ein CLIP-Modellordner (Hugging-Face-Layout: config.json, model.safetensors, die Tokenizer-Dateien), z. B. openai/clip-vit-base-patch32: UA und RA per Zero-Shot-CLIP, wie das RGD-Paper sie misst</translation>
    </message>
    <message>
        <source>Choose FID&apos;s Inception-v3 detector</source>
        <translation>Inception-v3-Detektor für FID wählen</translation>
    </message>
    <message>
        <source>Safetensors files (*.safetensors)</source>
        <translation>Safetensors-Dateien (*.safetensors)</translation>
    </message>
    <message>
        <source>FID&apos;s Inception-v3 detector (from scripts/inception_to_safetensors.py): FID of the remaining classes and of the forgotten class; needs the reference statistics</source>
        <translation>Inception-v3-Detektor für FID (aus scripts/inception_to_safetensors.py): FID der behaltenen Klassen und der vergessenen Klasse; benötigt die Referenzstatistiken</translation>
    </message>
    <message>
        <source>Choose FID&apos;s reference statistics</source>
        <translation>Referenzstatistiken für FID wählen</translation>
    </message>
    <message>
        <source>NumPy archives (*.npz)</source>
        <translation>NumPy-Archive (*.npz)</translation>
    </message>
    <message>
        <source>The real images&apos; statistics FID compares with (mu and sigma: EDM&apos;s fid-refs, or lethe-cli fid-ref)</source>
        <translation>Die Statistiken der echten Bilder, mit denen FID vergleicht (mu und sigma: fid-refs von EDM oder lethe-cli fid-ref)</translation>
    </message>
    <message>
        <source>edm (EDM&apos;s fid.py)</source>
        <translation>edm (fid.py von EDM)</translation>
    </message>
    <message>
        <source>pytorch-fid</source>
        <translation>pytorch-fid</translation>
    </message>
    <message>
        <source>How images reach Inception&apos;s 299×299 input</source>
        <translation>Wie die Bilder auf die 299×299-Eingabe von Inception gebracht werden</translation>
    </message>
    <message>
        <source>&amp;CLIP model folder:</source>
        <translation>&amp;CLIP-Modellordner:</translation>
    </message>
    <message>
        <source>&amp;Inception detector:</source>
        <translation>&amp;Inception-Detektor:</translation>
    </message>
    <message>
        <source>FID &amp;reference statistics:</source>
        <translation>FID-&amp;Referenzstatistiken:</translation>
    </message>
    <message>
        <source>FID re&amp;size:</source>
        <translation>FID-&amp;Skalierung:</translation>
    </message>
</context>
<context>
    <name>lethe::gui::MainWindow</name>
    <message>
        <source>Lethe — unlearning workbench</source>
        <translation>Lethe — Werkbank für maschinelles Verlernen</translation>
    </message>
    <message>
        <source>Open a Lethe or converted EDM model</source>
        <translation>Lethe- oder konvertiertes EDM-Modell öffnen</translation>
    </message>
    <message>
        <source>Model files (*.safetensors)</source>
        <translation>Modelldateien (*.safetensors)</translation>
    </message>
    <message>
        <source>&amp;Start</source>
        <translation>&amp;Starten</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>S&amp;toppen</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>E&amp;xportieren…</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Datei</translation>
    </message>
    <message>
        <source>&amp;Open model…</source>
        <translation>&amp;Modell öffnen…</translation>
    </message>
    <message>
        <source>Open the &amp;built-in model</source>
        <translation>&amp;Integriertes Modell öffnen</translation>
    </message>
    <message>
        <source>&amp;Recent models</source>
        <translation>&amp;Zuletzt verwendete Modelle</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>&amp;Lauf</translation>
    </message>
    <message>
        <source>&amp;Pause / resume</source>
        <translation>&amp;Pausieren / Fortsetzen</translation>
    </message>
    <message>
        <source>&amp;Settings</source>
        <translation>&amp;Einstellungen</translation>
    </message>
    <message>
        <source>&amp;Language</source>
        <translation>&amp;Sprache</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Sprache</translation>
    </message>
    <message>
        <source>The new language applies when Lethe starts again.</source>
        <translation>Die neue Sprache wird beim nächsten Start von Lethe wirksam.</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hilfe</translation>
    </message>
    <message>
        <source>&amp;About Lethe</source>
        <translation>&amp;Über Lethe</translation>
    </message>
    <message>
        <source>About Lethe</source>
        <translation>Über Lethe</translation>
    </message>
    <message>
        <source>&lt;b&gt;Lethe %1&lt;/b&gt;&lt;p&gt;A workbench for machine unlearning in diffusion models: RGD (restricted gradient with a diverse remain set) and its baselines GA, GradDiff, RG and SalUn.&lt;/p&gt;</source>
        <translation>&lt;b&gt;Lethe %1&lt;/b&gt;&lt;p&gt;Eine Werkbank für maschinelles Verlernen in Diffusionsmodellen: RGD (eingeschränkter Gradient mit diverser Behaltensmenge) und die Vergleichsverfahren GA, GradDiff, RG und SalUn.&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Stopping the run before closing …</source>
        <translation>Lauf wird vor dem Schließen gestoppt …</translation>
    </message>
    <message>
        <source>C&amp;lass</source>
        <translation>K&amp;lasse</translation>
    </message>
    <message>
        <source>Co&amp;ncept</source>
        <translation>Ko&amp;nzept</translation>
    </message>
    <message>
        <source>Lo&amp;g</source>
        <translation>Proto&amp;koll</translation>
    </message>
    <message>
        <source>Class unlearning of a class-conditional model</source>
        <translation>Klassen-Verlernen eines klassenkonditionierten Modells</translation>
    </message>
    <message>
        <source>Concept unlearning of a text-to-image model</source>
        <translation>Konzept-Verlernen eines Text-zu-Bild-Modells</translation>
    </message>
    <message>
        <source>What the program reports</source>
        <translation>Meldungen des Programms</translation>
    </message>
    <message>
        <source>Stopping the concept run before closing …</source>
        <translation>Konzept-Lauf wird vor dem Schließen gestoppt …</translation>
    </message>
</context>
<context>
    <name>lethe::gui::PreviewChoice</name>
    <message>
        <source>Before / after prompts</source>
        <translation>Vorher-/Nachher-Prompts</translation>
    </message>
    <message>
        <source>Checked prompts are drawn before and after, one column per seed</source>
        <translation>Markierte Prompts werden vorher und nachher erzeugt, eine Spalte pro Seed</translation>
    </message>
    <message>
        <source>Prompts of the before/after grids</source>
        <translation>Prompts der Vorher-/Nachher-Raster</translation>
    </message>
    <message>
        <source>Seeds of the columns, e.g. 0-3 or 1,5</source>
        <translation>Seeds der Spalten, z. B. 0-3 oder 1,5</translation>
    </message>
    <message>
        <source>only at the end</source>
        <translation>nur am Ende</translation>
    </message>
    <message>
        <source>Draw the &quot;after&quot; grid every N steps during the run (0: only at the end)</source>
        <translation>Das „Nachher“-Raster während des Laufs alle N Schritte erzeugen (0: nur am Ende)</translation>
    </message>
    <message>
        <source>Seeds:</source>
        <translation>Seeds:</translation>
    </message>
    <message>
        <source>After every:</source>
        <translation>Nach jeweils:</translation>
    </message>
    <message>
        <source>forget: %1</source>
        <translation>Vergessen: %1</translation>
    </message>
    <message>
        <source>remain: %1</source>
        <translation>Behalten: %1</translation>
    </message>
    <message>
        <source>The seeds &apos;%1&apos; are not a list like 0-3 or 1,5 (at most 65 in a range).</source>
        <translation>Die Seeds „%1“ sind keine Liste wie 0-3 oder 1,5 (höchstens 65 in einem Bereich).</translation>
    </message>
</context>
<context>
    <name>lethe::gui::PromptSetsEditor</name>
    <message>
        <source>Prompt</source>
        <translation>Prompt</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>Seed</translation>
    </message>
    <message>
        <source>Case</source>
        <translation>Fall</translation>
    </message>
    <message>
        <source>Forget prompts</source>
        <translation>Vergessens-Prompts</translation>
    </message>
    <message>
        <source>Remain prompts (training)</source>
        <translation>Behaltens-Prompts (Training)</translation>
    </message>
    <message>
        <source>Remain prompts (held-out test)</source>
        <translation>Behaltens-Prompts (zurückgehaltener Test)</translation>
    </message>
    <message>
        <source>&amp;Add</source>
        <translation>&amp;Hinzufügen</translation>
    </message>
    <message>
        <source>Add a prompt row and start typing it</source>
        <translation>Prompt-Zeile hinzufügen und mit der Eingabe beginnen</translation>
    </message>
    <message>
        <source>&amp;Remove</source>
        <translation>&amp;Entfernen</translation>
    </message>
    <message>
        <source>&amp;Load…</source>
        <translation>&amp;Laden…</translation>
    </message>
    <message>
        <source>Load a prompt set</source>
        <translation>Prompt-Menge laden</translation>
    </message>
    <message>
        <source>Prompt sets (*.json *.csv);;All files (*)</source>
        <translation>Prompt-Mengen (*.json *.csv);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Sa&amp;ve…</source>
        <translation>Spei&amp;chern…</translation>
    </message>
    <message>
        <source>Save the prompt set</source>
        <translation>Prompt-Menge speichern</translation>
    </message>
    <message>
        <source>JSON prompt list (*.json)</source>
        <translation>JSON-Prompt-Liste (*.json)</translation>
    </message>
    <message>
        <source>Diversity builder</source>
        <translation>Diversitäts-Generator</translation>
    </message>
    <message>
        <source>Load pre&amp;set…</source>
        <translation>Vorgabe la&amp;den…</translation>
    </message>
    <message>
        <source>Load a diversity preset</source>
        <translation>Diversitäts-Vorgabe laden</translation>
    </message>
    <message>
        <source>Diversity presets (*.json);;All files (*)</source>
        <translation>Diversitäts-Vorgaben (*.json);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>no preset loaded</source>
        <translation>keine Vorgabe geladen</translation>
    </message>
    <message>
        <source>Dimension</source>
        <translation>Dimension</translation>
    </message>
    <message>
        <source>Training values</source>
        <translation>Trainingswerte</translation>
    </message>
    <message>
        <source>Held-out test values</source>
        <translation>Zurückgehaltene Testwerte</translation>
    </message>
    <message>
        <source>Values separated by commas; no test values = shared by all splits</source>
        <translation>Werte durch Kommas getrennt; ohne Testwerte = von allen Aufteilungen geteilt</translation>
    </message>
    <message>
        <source>Dimensions</source>
        <translation>Dimensionen</translation>
    </message>
    <message>
        <source>Add dimension</source>
        <translation>Dimension hinzufügen</translation>
    </message>
    <message>
        <source>Remove dimension</source>
        <translation>Dimension entfernen</translation>
    </message>
    <message>
        <source>a photo of a {colour} {object}</source>
        <translation>a photo of a {colour} {object}</translation>
    </message>
    <message>
        <source>empty: the remain template with {concept} for the concept dimension</source>
        <translation>leer: die Behaltens-Vorlage mit {concept} für die Konzept-Dimension</translation>
    </message>
    <message>
        <source>words separated by commas, e.g. sneaker</source>
        <translation>Wörter durch Kommas getrennt, z. B. sneaker</translation>
    </message>
    <message>
        <source>optional: the dimension the words belong to</source>
        <translation>optional: die Dimension, zu der die Wörter gehören</translation>
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
        <translation>Behaltens-&amp;Vorlage:</translation>
    </message>
    <message>
        <source>Forget template:</source>
        <translation>Vergessens-Vorlage:</translation>
    </message>
    <message>
        <source>Concept &amp;words:</source>
        <translation>Konzept&amp;wörter:</translation>
    </message>
    <message>
        <source>Concept dimension:</source>
        <translation>Konzept-Dimension:</translation>
    </message>
    <message>
        <source>Counts:</source>
        <translation>Anzahlen:</translation>
    </message>
    <message>
        <source>Builder seed:</source>
        <translation>Generator-Seed:</translation>
    </message>
    <message>
        <source>&amp;Build D_f, D_r,train, D_r,test</source>
        <translation>D_f, D_r,train, D_r,test e&amp;rstellen</translation>
    </message>
    <message>
        <source>%1, row %2: the seed &apos;%3&apos; is not a non-negative whole number</source>
        <translation>%1, Zeile %2: Der Seed „%3“ ist keine nichtnegative ganze Zahl</translation>
    </message>
    <message>
        <source>Loaded %1 prompts from %2</source>
        <translation>%1 Prompts aus %2 geladen</translation>
    </message>
    <message>
        <source>The prompts of %1 were not loaded; the table keeps what it had.

%2</source>
        <translation>Die Prompts aus %1 wurden nicht geladen; die Tabelle behält ihren bisherigen Inhalt.

%2</translation>
    </message>
    <message>
        <source>Saved %1 prompts to %2</source>
        <translation>%1 Prompts in %2 gespeichert</translation>
    </message>
    <message>
        <source>%1 was not written.

%2</source>
        <translation>%1 wurde nicht geschrieben.

%2</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>Loaded the preset %1: press Build to make the prompt sets</source>
        <translation>Vorgabe %1 geladen: auf „Erstellen“ klicken, um die Prompt-Mengen zu bilden</translation>
    </message>
    <message>
        <source>The preset %1 was not loaded; the builder keeps what it had.

%2</source>
        <translation>Die Vorgabe %1 wurde nicht geladen; der Generator behält seinen bisherigen Inhalt.

%2</translation>
    </message>
    <message>
        <source>D_f %1, D_r,train %2, D_r,test %3 prompts (of %4, %5 and %6 distinct)</source>
        <translation>D_f %1, D_r,train %2, D_r,test %3 Prompts (davon %4, %5 und %6 verschieden)</translation>
    </message>
    <message>
        <source>Not built.</source>
        <translation>Nicht erstellt.</translation>
    </message>
    <message>
        <source>Build the prompt sets</source>
        <translation>Prompt-Mengen erstellen</translation>
    </message>
    <message>
        <source>The prompt sets were not built; they keep what they had.

%1</source>
        <translation>Die Prompt-Mengen wurden nicht erstellt; sie behalten ihren bisherigen Inhalt.

%1</translation>
    </message>
    <message>
        <source>&amp;Forget (D_f)</source>
        <translation>Ver&amp;gessen (D_f)</translation>
    </message>
    <message>
        <source>Remain (D_r,&amp;train)</source>
        <translation>Behalten (D_r,&amp;train)</translation>
    </message>
    <message>
        <source>Remain (D_r,te&amp;st)</source>
        <translation>Behalten (D_r,te&amp;st)</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <translation>%1: %2</translation>
    </message>
</context>
<context>
    <name>lethe::gui::RobustnessPanel</name>
    <message>
        <source>Run unlearning first: the attack needs the run&apos;s finished model.</source>
        <translation>Zuerst verlernen: Der Angriff braucht das fertige Modell des Laufs.</translation>
    </message>
    <message>
        <source>Attack</source>
        <translation>Angriff</translation>
    </message>
    <message>
        <source>UnlearnDiffAtk (hard prompt)</source>
        <translation>UnlearnDiffAtk (Hard-Prompt)</translation>
    </message>
    <message>
        <source>Soft prompt (upper bound)</source>
        <translation>Soft-Prompt (obere Schranke)</translation>
    </message>
    <message>
        <source>UnlearnDiffAtk looks for K real tokens a user could type before the prompt; the soft prompt optimises K free embeddings, a bound on what any K tokens could do</source>
        <translation>UnlearnDiffAtk sucht K echte Tokens, die ein Nutzer vor den Prompt schreiben könnte; der Soft-Prompt optimiert K freie Embeddings, eine Schranke für das, was beliebige K Tokens bewirken könnten</translation>
    </message>
    <message>
        <source>Class attack (label vector)</source>
        <translation>Klassenangriff (Label-Vektor)</translation>
    </message>
    <message>
        <source>Optimises a continuous label vector, started at the forgotten class, so that the unlearned model draws the base model&apos;s images of that class again</source>
        <translation>Optimiert einen kontinuierlichen Label-Vektor, ausgehend von der vergessenen Klasse, sodass das verlernte Modell wieder die Bilder des Basismodells von dieser Klasse erzeugt</translation>
    </message>
    <message>
        <source>&amp;Attack:</source>
        <translation>Angriffs&amp;art:</translation>
    </message>
    <message>
        <source>Optimisation steps per prompt</source>
        <translation>Optimierungsschritte pro Prompt</translation>
    </message>
    <message>
        <source>AdamW&apos;s learning rate (weight decay 0.1)</source>
        <translation>Lernrate von AdamW (Weight Decay 0,1)</translation>
    </message>
    <message>
        <source>Adam&apos;s learning rate</source>
        <translation>Lernrate von Adam</translation>
    </message>
    <message>
        <source>Diffusion timesteps averaged in each step&apos;s loss</source>
        <translation>Diffusions-Zeitschritte, über die der Verlust jedes Schritts gemittelt wird</translation>
    </message>
    <message>
        <source>The first forget prompts of the run are attacked</source>
        <translation>Die ersten Vergessens-Prompts des Laufs werden angegriffen</translation>
    </message>
    <message>
        <source>Images per prompt the judge reads, before and after the attack</source>
        <translation>Bilder pro Prompt, die der Prüfer vor und nach dem Angriff bewertet</translation>
    </message>
    <message>
        <source>Images of the concept the base model draws for the attack</source>
        <translation>Bilder des Konzepts, die das Basismodell für den Angriff erzeugt</translation>
    </message>
    <message>
        <source>&amp;Remove the concept word from the prompts</source>
        <translation>Konzeptwort aus den Prompts &amp;entfernen</translation>
    </message>
    <message>
        <source>The attacked prompts lose the concept&apos;s words while the targets still show it: is the attack real, or does the prompt alone bring the concept back?</source>
        <translation>Die angegriffenen Prompts verlieren die Wörter des Konzepts, während die Ziele es weiterhin zeigen: Wirkt der Angriff wirklich, oder bringt schon der Prompt allein das Konzept zurück?</translation>
    </message>
    <message>
        <source>&amp;Tokens K:</source>
        <translation>To&amp;kens K:</translation>
    </message>
    <message>
        <source>S&amp;teps:</source>
        <translation>Sc&amp;hritte:</translation>
    </message>
    <message>
        <source>&amp;Learning rate:</source>
        <translation>Le&amp;rnrate:</translation>
    </message>
    <message>
        <source>Ti&amp;mesteps per step:</source>
        <translation>Zeitschritte &amp;pro Schritt:</translation>
    </message>
    <message>
        <source>&amp;Prompts to attack:</source>
        <translation>Anzugreifende Pro&amp;mpts:</translation>
    </message>
    <message>
        <source>&amp;Judge seeds:</source>
        <translation>Prüfer-See&amp;ds:</translation>
    </message>
    <message>
        <source>Target &amp;images:</source>
        <translation>Zielb&amp;ilder:</translation>
    </message>
    <message>
        <source>Start atta&amp;ck</source>
        <translation>Angriff s&amp;tarten</translation>
    </message>
    <message>
        <source>Ca&amp;ncel</source>
        <translation>Abbre&amp;chen</translation>
    </message>
    <message>
        <source>Cancelling the attack …</source>
        <translation>Angriff wird abgebrochen …</translation>
    </message>
    <message>
        <source>attack loss</source>
        <translation>Angriffsverlust</translation>
    </message>
    <message>
        <source>loss</source>
        <translation>Verlust</translation>
    </message>
    <message>
        <source>No attack yet.</source>
        <translation>Noch kein Angriff.</translation>
    </message>
    <message>
        <source>Prompt</source>
        <translation>Prompt</translation>
    </message>
    <message>
        <source>Adversarial prompt</source>
        <translation>Adversarieller Prompt</translation>
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
        <translation>Klasse</translation>
    </message>
    <message>
        <source>Label vector</source>
        <translation>Label-Vektor</translation>
    </message>
    <message>
        <source>Pre and Post: the share of the judge seeds&apos; images showing the concept, from the plain prompt and from the adversarial one</source>
        <translation>Pre und Post: der Anteil der Bilder aus den Prüfer-Seeds, die das Konzept zeigen, mit dem einfachen und mit dem adversariellen Prompt</translation>
    </message>
    <message>
        <source>Plain prompts</source>
        <translation>Einfache Prompts</translation>
    </message>
    <message>
        <source>Plain label</source>
        <translation>Einfaches Label</translation>
    </message>
    <message>
        <source>The unlearned model&apos;s images of the plain prompts appear when an attack ends.</source>
        <translation>Die Bilder des verlernten Modells zu den einfachen Prompts erscheinen, wenn ein Angriff endet.</translation>
    </message>
    <message>
        <source>Adversarial prompts</source>
        <translation>Adversarielle Prompts</translation>
    </message>
    <message>
        <source>Adversarial label</source>
        <translation>Adversarielles Label</translation>
    </message>
    <message>
        <source>Its images of the adversarial prompts, from the same seeds, beside them.</source>
        <translation>Daneben seine Bilder zu den adversariellen Prompts, aus denselben Seeds.</translation>
    </message>
    <message>
        <source>Attack the run&apos;s finished model</source>
        <translation>Das fertige Modell des Laufs angreifen</translation>
    </message>
    <message>
        <source>Does it stay forgotten? The attack searches for an input that makes the unlearned model draw the concept again; the judge reads its images before (Pre-ASR) and after (Post-ASR).</source>
        <translation>Bleibt es vergessen? Der Angriff sucht eine Eingabe, mit der das verlernte Modell das Konzept wieder erzeugt; der Prüfer bewertet seine Bilder davor (Pre-ASR) und danach (Post-ASR).</translation>
    </message>
    <message>
        <source>Starting the attack</source>
        <translation>Angriff wird gestartet</translation>
    </message>
    <message>
        <source>Attacking the run&apos;s model …</source>
        <translation>Angriff auf das Modell des Laufs …</translation>
    </message>
    <message>
        <source>Drawing the base model&apos;s targets</source>
        <translation>Erzeugen der Ziele des Basismodells</translation>
    </message>
    <message>
        <source>Drawing the plain prompts&apos; images</source>
        <translation>Erzeugen der Bilder der einfachen Prompts</translation>
    </message>
    <message>
        <source>Drawing the plain images</source>
        <translation>Erzeugen der einfachen Bilder</translation>
    </message>
    <message>
        <source>Attacking</source>
        <translation>Angriff</translation>
    </message>
    <message>
        <source>Drawing the adversarial prompts&apos; images</source>
        <translation>Erzeugen der Bilder der adversariellen Prompts</translation>
    </message>
    <message>
        <source>Drawing the adversarial images</source>
        <translation>Erzeugen der adversariellen Bilder</translation>
    </message>
    <message>
        <source>%1, prompt %2 of %3</source>
        <translation>%1, Prompt %2 von %3</translation>
    </message>
    <message>
        <source>%1: %v of %m</source>
        <translation>%1: %v von %m</translation>
    </message>
    <message>
        <source>prompt %1</source>
        <translation>Prompt %1</translation>
    </message>
    <message>
        <source>Attack finished</source>
        <translation>Angriff beendet</translation>
    </message>
    <message>
        <source>Targets drawn from &quot;%1&quot;</source>
        <translation>Ziele erzeugt aus „%1“</translation>
    </message>
    <message>
        <source>Finished in %1 s. The judge: %2.</source>
        <translation>Beendet in %1 s. Der Prüfer: %2.</translation>
    </message>
    <message>
        <source>Attack finished: %1</source>
        <translation>Angriff beendet: %1</translation>
    </message>
    <message>
        <source>Attack cancelled</source>
        <translation>Angriff abgebrochen</translation>
    </message>
    <message>
        <source>The attack was cancelled; the run&apos;s results are as they were.</source>
        <translation>Der Angriff wurde abgebrochen; die Ergebnisse des Laufs bleiben unverändert.</translation>
    </message>
    <message>
        <source>Attack failed</source>
        <translation>Angriff fehlgeschlagen</translation>
    </message>
    <message>
        <source>The attack failed: %1</source>
        <translation>Der Angriff ist fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>UnlearnDiffAtk</source>
        <translation>UnlearnDiffAtk</translation>
    </message>
    <message>
        <source>soft prompt</source>
        <translation>Soft-Prompt</translation>
    </message>
    <message>
        <source>class attack</source>
        <translation>Klassenangriff</translation>
    </message>
    <message>
        <source>Pre-ASR %1 → Post-ASR %2 (%3, %4 × %5 seeds)</source>
        <translation>Pre-ASR %1 → Post-ASR %2 (%3, %4 × %5 Seeds)</translation>
    </message>
    <message>
        <source>1 prompt</source>
        <translation>1 Prompt</translation>
    </message>
    <message>
        <source>%1 prompts</source>
        <translation>%1 Prompts</translation>
    </message>
    <message>
        <source>1 class</source>
        <translation>1 Klasse</translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1 %</translation>
    </message>
    <message>
        <source>Adversarial tokens put before or after the prompt</source>
        <translation>Adversarielle Tokens vor oder nach dem Prompt</translation>
    </message>
    <message>
        <source>Before the prompt (UnlearnDiffAtk)</source>
        <translation>Vor dem Prompt (UnlearnDiffAtk)</translation>
    </message>
    <message>
        <source>After the prompt</source>
        <translation>Nach dem Prompt</translation>
    </message>
    <message>
        <source>Where the adversarial tokens go: before the prompt, as UnlearnDiffAtk does by default, or after it, where the concept&apos;s word would stand</source>
        <translation>Wohin die adversariellen Tokens kommen: vor den Prompt, wie UnlearnDiffAtk es standardmäßig tut, oder dahinter, wo das Wort des Konzepts stünde</translation>
    </message>
    <message>
        <source>Plac&amp;ement:</source>
        <translation>P&amp;osition:</translation>
    </message>
</context>
<context>
    <name>lethe::gui::RunWorker</name>
    <message>
        <source>Drawing the previews</source>
        <translation>Erzeugen der Vorschauen</translation>
    </message>
    <message>
        <source>float32 (full precision)</source>
        <translation>float32 (volle Präzision)</translation>
    </message>
    <message>
        <source>bfloat16 (autocast)</source>
        <translation>bfloat16 (Autocast)</translation>
    </message>
    <message>
        <source>float16 (autocast, CUDA only)</source>
        <translation>float16 (Autocast, nur CUDA)</translation>
    </message>
</context>
<context>
    <name>lethe::gui::SessionWorker</name>
    <message>
        <source>RGD (restricted gradient, diverse remain set)</source>
        <translation>RGD (eingeschränkter Gradient, diverse Behaltensmenge)</translation>
    </message>
    <message>
        <source>RG (restricted gradient)</source>
        <translation>RG (eingeschränkter Gradient)</translation>
    </message>
    <message>
        <source>GradDiff</source>
        <translation>GradDiff</translation>
    </message>
    <message>
        <source>GA (gradient ascent)</source>
        <translation>GA (Gradientenaufstieg)</translation>
    </message>
    <message>
        <source>SalUn</source>
        <translation>SalUn</translation>
    </message>
    <message>
        <source>Opening the model and data set</source>
        <translation>Öffnen von Modell und Datensatz</translation>
    </message>
    <message>
        <source>Measuring the real test images</source>
        <translation>Messen der echten Testbilder</translation>
    </message>
    <message>
        <source>%1 — %2 parameters, %3 classes, %4×%4, %5</source>
        <translation>%1 — %2 Parameter, %3 Klassen, %4×%4, %5</translation>
    </message>
    <message>
        <source>%1 — %2 training images</source>
        <translation>%1 — %2 Trainingsbilder</translation>
    </message>
    <message>
        <source>Sampling the base model&apos;s preview</source>
        <translation>Erzeugen der Vorschau des Basismodells</translation>
    </message>
    <message>
        <source>Measuring the base model</source>
        <translation>Messen des Basismodells</translation>
    </message>
    <message>
        <source>Measuring the unlearned model</source>
        <translation>Messen des verlernten Modells</translation>
    </message>
    <message>
        <source>Sampling the unlearned model&apos;s preview</source>
        <translation>Erzeugen der Vorschau des verlernten Modells</translation>
    </message>
    <message>
        <source>Loading the CLIP model</source>
        <translation>Laden des CLIP-Modells</translation>
    </message>
    <message>
        <source>Loading the Inception detector and the FID reference</source>
        <translation>Laden des Inception-Detektors und der FID-Referenz</translation>
    </message>
    <message>
        <source>zero-shot CLIP from %1 (&quot;%2&quot; … &quot;%3&quot;)</source>
        <translation>Zero-Shot-CLIP aus %1 („%2“ … „%3“)</translation>
    </message>
    <message>
        <source>FID with %1 against %2 (%3 resize)</source>
        <translation>FID mit %1 gegen %2 (Skalierung %3)</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::ClassPicker</name>
    <message>
        <source>Classes</source>
        <translation>Klassen</translation>
    </message>
    <message numerus="yes">
        <source>%1  %2 (%n images)</source>
        <translation>
            <numerusform>%1  %2 (%n Bild)</numerusform>
            <numerusform>%1  %2 (%n Bilder)</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>lethe::widgets::CurvePlot</name>
    <message>
        <source>step</source>
        <translation>Schritt</translation>
    </message>
    <message>
        <source>%1 (smoothed)</source>
        <translation>%1 (geglättet)</translation>
    </message>
    <message>
        <source>step %1</source>
        <translation>Schritt %1</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::HyperparameterPanel</name>
    <message>
        <source>&amp;Preset:</source>
        <translation>Vor&amp;gabe:</translation>
    </message>
    <message>
        <source>&amp;Method:</source>
        <translation>&amp;Methode:</translation>
    </message>
    <message>
        <source>&amp;α (forget-loss truncation):</source>
        <translation>&amp;α (Kappung des Vergessensverlusts):</translation>
    </message>
    <message>
        <source>&amp;λ (remain weight):</source>
        <translation>&amp;λ (Behaltensgewicht):</translation>
    </message>
    <message>
        <source>&amp;Learning rate:</source>
        <translation>Le&amp;rnrate:</translation>
    </message>
    <message>
        <source>&amp;Steps:</source>
        <translation>Schr&amp;itte:</translation>
    </message>
    <message>
        <source>&amp;Forget batch:</source>
        <translation>&amp;Vergessens-Batch:</translation>
    </message>
    <message>
        <source>&amp;Remain images per class:</source>
        <translation>Behaltensbilder pro &amp;Klasse:</translation>
    </message>
    <message>
        <source>Remain &amp;batch:</source>
        <translation>Behaltens-&amp;Batch:</translation>
    </message>
    <message>
        <source>S&amp;eed:</source>
        <translation>S&amp;eed:</translation>
    </message>
    <message>
        <source>Per-element truncation of the forget loss: elements above α give no gradient.</source>
        <translation>Elementweise Kappung des Vergessensverlusts: Elemente über α liefern keinen Gradienten.</translation>
    </message>
    <message>
        <source>Weight of the remain (descent) direction relative to the forget (ascent) direction.</source>
        <translation>Gewicht der Behaltensrichtung (Abstieg) relativ zur Vergessensrichtung (Aufstieg).</translation>
    </message>
    <message>
        <source>Adam learning rate, constant.</source>
        <translation>Adam-Lernrate, konstant.</translation>
    </message>
    <message>
        <source>Size of the diverse remain set: images of each class that is kept.</source>
        <translation>Größe der diversen Behaltensmenge: Bilder je behaltener Klasse.</translation>
    </message>
    <message>
        <source>&amp;η (ESD guidance):</source>
        <translation>&amp;η (ESD-Guidance):</translation>
    </message>
    <message>
        <source>The UNet parameters the run changes</source>
        <translation>Die UNet-Parameter, die der Lauf verändert</translation>
    </message>
    <message>
        <source>ESD: how far the target moves away from the concept (negative guidance)</source>
        <translation>ESD: wie weit sich das Ziel vom Konzept entfernt (negative Guidance)</translation>
    </message>
    <message>
        <source>Forget-loss truncation: a step whose L_f exceeds α descends on the remain set only</source>
        <translation>Kappung des Vergessensverlusts: Ein Schritt, dessen L_f α übersteigt, steigt nur auf der Behaltensmenge ab</translation>
    </message>
    <message>
        <source>Parame&amp;ters:</source>
        <translation>P&amp;arameter:</translation>
    </message>
    <message>
        <source>Salienc&amp;y fraction:</source>
        <translation>Sa&amp;lienz-Anteil:</translation>
    </message>
    <message>
        <source>Gui&amp;de:</source>
        <translation>&amp;Ziel-Prompt:</translation>
    </message>
    <message>
        <source>Preser&amp;ved concepts:</source>
        <translation>Bewahr&amp;te Konzepte:</translation>
    </message>
    <message>
        <source>Regular&amp;isation:</source>
        <translation>Regularisieru&amp;ng:</translation>
    </message>
    <message>
        <source>Erase s&amp;cale:</source>
        <translation>Lös&amp;ch-Skala:</translation>
    </message>
    <message>
        <source>Preserve sc&amp;ale:</source>
        <translation>Bewahrungs-&amp;Skala:</translation>
    </message>
    <message>
        <source>SalUn: the fraction of the weights&apos; entries its saliency mask lets change (those with the largest forget-loss gradient)</source>
        <translation>SalUn: der Anteil der Gewichtseinträge, die seine Salienzmaske ändern lässt (jene mit dem größten Gradienten des Vergessensverlusts)</translation>
    </message>
    <message>
        <source>empty prompt</source>
        <translation>leerer Prompt</translation>
    </message>
    <message>
        <source>UCE: what the concept words are mapped to; empty: the empty prompt, as UCE&apos;s authors erase</source>
        <translation>UCE: worauf die Konzeptwörter abgebildet werden; leer: der leere Prompt, wie die Autoren von UCE löschen</translation>
    </message>
    <message>
        <source>concepts separated by commas</source>
        <translation>Konzepte, durch Kommas getrennt</translation>
    </message>
    <message>
        <source>UCE: concepts whose cross-attention keys and values stay as they were, e.g. the other garments; empty: the concept dimension&apos;s other training values when the prompt sets were built from a preset</source>
        <translation>UCE: Konzepte, deren Cross-Attention-Keys und -Values bleiben, wie sie waren, z. B. die anderen Kleidungsstücke; leer: die übrigen Trainingswerte der Konzeptdimension, wenn die Prompt-Mengen aus einer Vorgabe gebaut wurden</translation>
    </message>
    <message>
        <source>UCE: the weight λ of ‖W − W_old‖², which keeps the edit near the original projections (the authors&apos; 0.1)</source>
        <translation>UCE: das Gewicht λ von ‖W − W_old‖², das die Änderung nahe an den ursprünglichen Projektionen hält (die 0,1 der Autoren)</translation>
    </message>
    <message>
        <source>UCE: the weight of the erased concepts&apos; term (the authors&apos; 1)</source>
        <translation>UCE: das Gewicht des Terms der gelöschten Konzepte (die 1 der Autoren)</translation>
    </message>
    <message>
        <source>auto</source>
        <translation>auto</translation>
    </message>
    <message>
        <source>UCE: the weight of the preserved concepts&apos; term; auto: the authors&apos; max(0.1, 1 / preserved concepts)</source>
        <translation>UCE: das Gewicht des Terms der bewahrten Konzepte; auto: max(0,1; 1 / bewahrte Konzepte) wie bei den Autoren</translation>
    </message>
    <message>
        <source>Precisio&amp;n:</source>
        <translation>&amp;Präzision:</translation>
    </message>
    <message>
        <source>Gradient chec&amp;kpointing</source>
        <translation>Gra&amp;dient-Checkpointing</translation>
    </message>
    <message>
        <source>Mem&amp;ory-efficient attention</source>
        <translation>Speic&amp;hersparende Attention</translation>
    </message>
    <message>
        <source>The arithmetic of the steps&apos; passes: bfloat16 and float16 compute matrix products and convolutions in 16 bits (faster where the hardware has 16-bit units); autocast keeps copies in both types, so activations take more memory, not less; the weights, their gradients and Adam&apos;s state stay float32. float16 needs CUDA.</source>
        <translation>Die Arithmetik der Durchläufe der Schritte: bfloat16 und float16 rechnen Matrixprodukte und Faltungen in 16 Bit (schneller, wo die Hardware 16-Bit-Einheiten hat); Autocast behält Kopien in beiden Typen, daher brauchen die Aktivierungen mehr Speicher, nicht weniger; die Gewichte, ihre Gradienten und Adams Zustand bleiben float32. float16 braucht CUDA.</translation>
    </message>
    <message>
        <source>Recompute the UNet blocks&apos; activations in the backward pass instead of keeping them: far less memory for activations, for about one more forward pass of time per step</source>
        <translation>Die Aktivierungen der UNet-Blöcke im Rückwärtsdurchlauf neu berechnen, statt sie zu behalten: weit weniger Speicher für Aktivierungen, für etwa einen Vorwärtsdurchlauf mehr Zeit pro Schritt</translation>
    </message>
    <message>
        <source>Attention that never holds a whole score tensor (heads × queries × keys): much less memory at large images, the same result up to rounding</source>
        <translation>Attention, die nie einen ganzen Score-Tensor (Köpfe × Queries × Keys) hält: viel weniger Speicher bei großen Bildern, bis auf Rundung dasselbe Ergebnis</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::LogView</name>
    <message>
        <source>Log</source>
        <translation>Protokoll</translation>
    </message>
</context>
<context>
    <name>lethe::widgets::MetricsView</name>
    <message>
        <source>classified as its class</source>
        <translation>als eigene Klasse klassifiziert</translation>
    </message>
    <message>
        <source>Per-class accuracy before and after</source>
        <translation>Genauigkeit pro Klasse vorher und nachher</translation>
    </message>
    <message>
        <source>before</source>
        <translation>vorher</translation>
    </message>
    <message>
        <source>after</source>
        <translation>nachher</translation>
    </message>
    <message>
        <source>No measurements yet: they appear when a run with evaluation finishes.</source>
        <translation>Noch keine Messungen: Sie erscheinen, wenn ein Lauf mit Auswertung abgeschlossen ist.</translation>
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
        <translation>FID %1 (behaltene Klassen)</translation>
    </message>
    <message>
        <source>FID forgotten %1</source>
        <translation>FID vergessene Klasse %1</translation>
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
