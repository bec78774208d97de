"""The written-out recurrent cells equal torch's fused nn.RNN/LSTM/GRU, outputs and gradients."""

import pytest
import torch
from torch import nn

from deepnet.core.recurrent import Recurrent, copy_weights, detach_state

FUSED = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@pytest.mark.parametrize("mode", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_written_out_cells_equal_torch(mode, layers):
    torch.manual_seed(0)
    B, T, D, H = 3, 7, 5, 6
    ref = FUSED[mode](D, H, layers, batch_first=True).double()
    ours = Recurrent(mode, D, H, layers).double()
    copy_weights(ref, ours)
    x = torch.randn(B, T, D, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(layers, B, H, dtype=torch.double)
    state = (h0, torch.randn_like(h0)) if mode == "lstm" else h0
    out_ref, last_ref = ref(x, state)
    out, last = ours(x, state)
    torch.testing.assert_close(out, out_ref)
    for a, b in zip(last if mode == "lstm" else [last], last_ref if mode == "lstm" else [last_ref]):
        torch.testing.assert_close(a, b)
    # gradients of a loss through all outputs and the last state, w.r.t. input and every weight
    w = torch.randn_like(out)
    (g_x_ref,) = torch.autograd.grad((out_ref * w).sum() + (last_ref[0] if mode == "lstm" else last_ref).sum(),
                                     x, retain_graph=True)
    loss_ref = (out_ref * w).sum() + (last_ref[0] if mode == "lstm" else last_ref).sum()
    loss = (out * w).sum() + (last[0] if mode == "lstm" else last).sum()
    g_ref = torch.autograd.grad(loss_ref, [x, *ref.parameters()])
    g = torch.autograd.grad(loss, [x, *ours.parameters()])
    torch.testing.assert_close(g[0], g_x_ref)
    ref_names = [n for n, _ in ref.named_parameters()]
    our_names = [n for n, _ in ours.named_parameters()]
    # torch orders parameters per layer as weight_ih, weight_hh, bias_ih, bias_hh, as ours do
    assert [n.rsplit("_l", 1)[0] for n in ref_names] == [n.split(".")[-1] for n in our_names]
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


def test_fused_path_equals_written_out_and_copy_back():
    torch.manual_seed(1)
    ours = Recurrent("lstm", 4, 5, 2)
    fused = copy_weights(ours, Recurrent("lstm", 4, 5, 2, fused=True))
    x = torch.randn(2, 9, 4)
    torch.testing.assert_close(ours(x)[0], fused(x)[0])
    back = copy_weights(fused, Recurrent("lstm", 4, 5, 2))
    torch.testing.assert_close(back(x)[0], ours(x)[0])


def test_mask_keeps_state_at_padded_steps():
    torch.manual_seed(2)
    net = Recurrent("gru", 3, 4)
    x = torch.randn(2, 6, 3)
    mask = torch.ones(2, 6)
    mask[1, 4:] = 0  # the second sequence has length 4
    out, last = net(x, mask=mask)
    short, last_short = net(x[1:, :4])
    torch.testing.assert_close(last[0, 1], last_short[0, 0])
    torch.testing.assert_close(out[1, 5], out[1, 3])


def test_dropout_between_layers_only_in_training():
    net = Recurrent("lstm", 3, 4, num_layers=2, dropout=0.5)
    x = torch.randn(2, 5, 3)
    net.eval()
    torch.testing.assert_close(net(x)[0], net(x)[0])
    net.train()
    torch.manual_seed(0)
    a = net(x)[0]
    torch.manual_seed(1)
    assert not torch.allclose(a, net(x)[0])


def test_detach_state_cuts_the_graph():
    net = Recurrent("lstm", 3, 4)
    _, state = net(torch.randn(1, 2, 3))
    h, c = detach_state(state)
    assert not h.requires_grad and not c.requires_grad
    torch.testing.assert_close(h, state[0].detach())
