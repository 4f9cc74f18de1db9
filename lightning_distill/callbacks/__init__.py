"""Lightning callbacks that measure and record a run (kept out of the LightningModule)."""

from lightning_distill.callbacks.hopeless_trial import HopelessTrialStopping
from lightning_distill.callbacks.inference_time import InferenceTime
from lightning_distill.callbacks.metrics_file import MetricsFile
from lightning_distill.callbacks.onnx_deployment import OnnxDeployment
from lightning_distill.callbacks.parameter_count import ParameterCount
from lightning_distill.callbacks.resume_checkpoint import ResumeCheckpoint
from lightning_distill.callbacks.squad_evaluation import SquadEvaluation
from lightning_distill.callbacks.student_checkpoint import StudentCheckpoint
from lightning_distill.callbacks.training_time import TrainingTime

__all__ = ["HopelessTrialStopping", "InferenceTime", "MetricsFile", "OnnxDeployment", "ParameterCount", "ResumeCheckpoint", "SquadEvaluation", "StudentCheckpoint", "TrainingTime"]
